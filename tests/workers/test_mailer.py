"""Sending the outbox: a mail server that is down is retried with backing off, a lost job
is re-enqueued by the reconciler, and a mail no longer owed is never sent."""

from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from rq import SimpleWorker
from rq.registry import ScheduledJobRegistry
from rq.serializers import JSONSerializer
from sqlmodel import Session, select

from api.reconciler.service import reconcile
from core import queue
from core.config import settings
from core.db import session_scope
from core.models import Email, utcnow
from devtools.local import free_port
from tests.helpers import create_event, create_user, mailed, mailed_all, run_jobs


def _ask_for_a_link(client: TestClient, session: Session) -> None:
    event = create_event(session, owner=create_user(session))
    body = {"event_code": event.code, "email": "ann@example.com", "consent": True}
    assert client.post("/api/register-with-event-code", json=body).status_code == 202


def test_a_mail_server_that_is_down_is_retried_with_backing_off(
    client: TestClient, session: Session, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    _ask_for_a_link(client, session)
    with monkeypatch.context() as down:
        down.setattr(settings, "SMTP_HOST", "127.0.0.1")
        down.setattr(settings, "SMTP_PORT", free_port())  # nothing listens there
        down.setattr(settings, "SMTP_SECURITY", "none")
        run_jobs(redis, queue.EMAILS)
    email = session.exec(select(Email)).one()
    assert email.sent_at is None and email.attempts == 1
    assert email.last_error and "refused" in email.last_error.lower()
    job_id = queue.send_email(email.id).job_id
    scheduled = ScheduledJobRegistry(queue.EMAILS, connection=redis, serializer=JSONSerializer)
    assert job_id in scheduled.get_job_ids(), "RQ retries it"
    due = scheduled.get_scheduled_time(job_id) - utcnow()
    assert timedelta(seconds=20) < due <= timedelta(seconds=queue.EMAIL_RETRY_INTERVALS[0])

    # The server is back; the retry's moment comes (as RQ's scheduler would move it).
    redis.zadd(scheduled.key, {job_id: 0})
    with session_scope() as scoped:
        assert job_id in reconcile(scoped, queue.JobQueue(redis)).enqueued
    assert len(mailed("ann@example.com")) == 1
    session.expire_all()
    sent = session.exec(select(Email)).one()
    assert sent.sent_at is not None and sent.attempts == 2 and sent.last_error is None


def test_a_lost_mail_job_is_enqueued_again_by_the_reconciler(
    client: TestClient, session: Session, redis: Redis
) -> None:
    _ask_for_a_link(client, session)
    email = session.exec(select(Email)).one()
    queue.JobQueue(redis).discard(queue.send_email(email.id))  # the job is lost
    with session_scope() as scoped:
        young = reconcile(scoped, queue.JobQueue(redis), stale_after=timedelta(minutes=5))
    assert queue.send_email(email.id).job_id not in young.enqueued, "too young to be lost"
    with session_scope() as scoped:
        report = reconcile(scoped, queue.JobQueue(redis), stale_after=timedelta(0))
    assert queue.send_email(email.id).job_id in report.enqueued
    assert len(mailed("ann@example.com")) == 1


def test_a_sign_in_mail_whose_link_expired_is_dropped_unsent(
    client: TestClient, session: Session, redis: Redis
) -> None:
    _ask_for_a_link(client, session)
    email = session.exec(select(Email)).one()
    email.expires_at = utcnow() - timedelta(seconds=1)
    session.add(email)
    session.commit()
    run_jobs(redis, queue.EMAILS)
    assert mailed_all("ann@example.com") == []
    session.expire_all()
    assert session.exec(select(Email)).all() == [], "no longer owed: gone"


class _RefusesOne:
    """An SMTP server that refuses one recipient and keeps what it accepts."""

    def __init__(self, refused: str) -> None:
        self.refused, self.accepted = refused, []  # type: ignore[var-annotated]

    async def handle_RCPT(self, server, session, envelope, address, options):  # type: ignore[no-untyped-def]
        if address == self.refused:
            return "550 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.accepted += envelope.rcpt_tos
        return "250 OK"


def _a_batch_of_three(kind) -> None:  # type: ignore[no-untyped-def]
    """Three outbox mails (to r0, r1, r2) in one batch job, as digests are sent."""
    from api.mail.service import queue_mail, send_in_batches

    with session_scope() as scoped:
        send_in_batches(scoped, [
            queue_mail(scoped, kind=kind, to=f"r{n}@example.com", template="sign_in",
                       send=False, joining=False, name=None, event_name="Run", link="http://x/",
                       minutes=15)
            for n in range(3)
        ])  # fmt: skip


def test_a_batch_sends_over_one_connection_and_its_retry_sends_only_what_failed(
    client: TestClient, session: Session, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    from aiosmtpd.controller import Controller

    from core.models import EmailKind
    from workers.jobs import mail as mailer

    _a_batch_of_three(EmailKind.sign_in)
    [job] = {e.job_id for e in session.exec(select(Email))}
    assert job is not None and job.startswith("send-emails-")
    server = _RefusesOne("r1@example.com")
    controller = Controller(server, hostname="127.0.0.1", port=free_port())
    controller.start()
    connections = []
    opened = mailer.Relay._open
    monkeypatch.setattr(mailer.Relay, "_open",
                        lambda self: connections.append(1) or opened(self))  # fmt: skip
    monkeypatch.setattr(settings, "SMTP_HOST", "127.0.0.1")
    monkeypatch.setattr(settings, "SMTP_PORT", controller.port)
    monkeypatch.setattr(settings, "SMTP_SECURITY", "none")
    try:
        run_jobs(redis, queue.DIGESTS)
        assert sorted(server.accepted) == ["r0@example.com", "r2@example.com"]
        assert len(connections) == 2, "one for the batch, one after the refusal"
        server.refused = ""
        scheduled = ScheduledJobRegistry(queue.DIGESTS, connection=redis, serializer=JSONSerializer)
        assert job in scheduled.get_job_ids(), "the batch is retried"
        redis.zadd(scheduled.key, {job: 0})
        queue.JobQueue(redis).release_overdue()
        run_jobs(redis, queue.DIGESTS)
    finally:
        controller.stop()
    assert sorted(server.accepted) == ["r0@example.com", "r1@example.com", "r2@example.com"]
    session.expire_all()
    assert [e.attempts for e in session.exec(select(Email).order_by(Email.to_address))] == [1, 2, 1]


def test_a_digest_batch_gives_way_to_a_sign_in_link_queued_meanwhile(
    client: TestClient, session: Session, redis: Redis
) -> None:
    from core.models import EmailKind

    _a_batch_of_three(EmailKind.digest)
    batch = {e.job_id for e in session.exec(select(Email))}
    _ask_for_a_link(client, session)  # a sign-in mail is queued behind the batch's start
    # Digests count only with an opted-in attendee: these three have none, so they are
    # dropped unsent, which is enough to see the order the worker takes them in.
    digests = queue.JobQueue(redis).queues[queue.DIGESTS]
    SimpleWorker([digests], connection=redis, serializer=JSONSerializer).work(
        burst=True, max_jobs=1
    )
    session.expire_all()
    rest = session.exec(select(Email).where(Email.kind == EmailKind.digest)).all()
    assert len(rest) == 2, "one went, then the batch gave way"
    assert {e.job_id for e in rest} != batch and len({e.job_id for e in rest}) == 1
    assert queue.JobQueue(redis).is_active(rest[0].job_id or "")
    run_jobs(redis, queue.EMAILS)
    assert len(mailed("ann@example.com")) == 1
    run_jobs(redis, queue.DIGESTS)
    session.expire_all()
    assert session.exec(select(Email).where(Email.kind == EmailKind.digest)).all() == []


def test_a_mail_that_cannot_be_built_counts_its_attempt_and_is_not_retried_forever(
    client: TestClient, session: Session, redis: Redis
) -> None:
    """An event named before names were checked, with a lone CR: the header cannot be made.
    The attempt is kept (it used to roll back, so the job was retried without end), the
    reason is stored, and the other mails of the batch still go."""
    from api.mail.service import queue_mail, send_in_batches
    from core.models import EmailKind

    with session_scope() as scoped:
        send_in_batches(scoped, [
            queue_mail(scoped, kind=EmailKind.sign_in, to=f"r{n}@example.com", template="sign_in",
                       send=False, joining=False, name=None, event_name=name,
                       link="http://x/", minutes=15)
            for n, name in enumerate(["Gala\rParty", "Harbour Run"])
        ])  # fmt: skip
    run_jobs(redis, queue.DIGESTS)
    assert [m.subject for m in mailed("r1@example.com")] == ["Your sign-in link for Harbour Run"]
    session.expire_all()
    broken = session.exec(select(Email).where(Email.to_address == "r0@example.com")).one()
    assert (broken.attempts, broken.sent_at) == (1, None)
    assert broken.last_error is not None and broken.last_error.startswith("unsendable: ValueError")
    scheduled = ScheduledJobRegistry(queue.DIGESTS, connection=redis, serializer=JSONSerializer)
    assert scheduled.get_job_ids() == [], "no retry: no retry can build it"
