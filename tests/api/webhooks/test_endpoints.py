"""An event's webhook: signed deliveries of indexed photos and new matches, from the
outbox, retried with back-off against a receiver that fails, and never to an address
inside the platform. The receiver is a real HTTP server on this machine."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from sqlmodel import Session, col, select

from core import webhooks
from core.config import settings
from core.models import Attendee, Event, WebhookDelivery, utcnow
from tests.helpers import (
    create_event,
    create_match,
    create_photo,
    create_user,
    face_photo,
    register_attendee,
    run_jobs,
    session_token,
)


@dataclass
class Receiver:
    """An organiser's endpoint: answers each post with the next of `statuses` (then 200)."""

    url: str = ""
    statuses: list[int] = field(default_factory=list)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def bodies(self) -> list[dict[str, Any]]:
        return [json.loads(body) for _, body in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    found = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            found.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
            status = found.statuses.pop(0) if found.statuses else 200
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    found.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/facematch?src=test"
    yield found
    server.shutdown()
    server.server_close()


def _event(
    client: TestClient, session: Session, receiver: Receiver
) -> tuple[Event, dict[str, str], str]:
    owner = create_user(session)
    event = create_event(session, owner=owner, name="Harbour Regatta")
    headers = {"Authorization": f"Bearer {session_token(session, owner)}"}
    response = client.put(f"/api/events/{event.id}/webhook", headers=headers,
                          json={"url": receiver.url})  # fmt: skip
    assert response.status_code == 200, response.text
    secret = response.json()["secret"]
    assert secret.startswith("whsec_")
    return event, headers, secret


def _deliveries(session: Session, event: Event) -> list[WebhookDelivery]:
    session.expire_all()
    query = select(WebhookDelivery).where(col(WebhookDelivery.event_id) == event.id)
    return list(session.exec(query.order_by(col(WebhookDelivery.created_at))).all())


def _deliver(redis: Redis, event: Event | None = None) -> None:
    """Run the delivery jobs; with `event`, its job first (enqueued as a worker's commit
    does: the test's own session is no unit of work that would)."""
    if event is not None:
        from core.queue import deliver_webhooks, get_job_queue

        get_job_queue().enqueue(deliver_webhooks(event.id))
    run_jobs(redis, "digests")


# Signatures ---------------------------------------------------------------------------


def test_a_signature_verifies_and_a_replay_a_changed_body_or_another_key_is_refused() -> None:
    secret = webhooks.new_secret()
    body = b'{"type":"ping","data":{}}'
    now = time.time()
    headers = webhooks.signed_headers(secret, "d-1", body, now=now)
    assert webhooks.verify(secret, headers, body, now=now + 60) == "d-1"
    refusals = {
        "replayed ten minutes later": (secret, headers, body, now + 600),
        "signed in the future": (secret, headers, body, now - 600),
        "body changed": (secret, headers, body.replace(b"ping", b"pong"), now),
        "another secret": (webhooks.new_secret(), headers, body, now),
        "no signature": (
            secret,
            {k: v for k, v in headers.items() if k != "webhook-signature"},
            body,
            now,
        ),
        "id changed": (secret, {**headers, "webhook-id": "d-2"}, body, now),
    }
    for case, (key, sent, data, at) in refusals.items():
        with pytest.raises(webhooks.SignatureRefused):
            webhooks.verify(key, sent, data, now=at)
            pytest.fail(case)


def test_an_attendees_reference_is_stable_within_an_event_and_unlinkable_across() -> None:
    attendee, one, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    assert webhooks.attendee_ref(one, attendee) == webhooks.attendee_ref(one, attendee)
    assert webhooks.attendee_ref(one, attendee) != webhooks.attendee_ref(other, attendee)
    assert str(attendee) not in webhooks.attendee_ref(one, attendee)


# Deliveries ---------------------------------------------------------------------------


@pytest.mark.faces
def test_an_indexed_photo_and_its_matches_reach_the_receiver_signed(
    client: TestClient, session: Session, redis: Redis, receiver: Receiver, faces_dir: Path
) -> None:
    event, headers, secret = _event(client, session, receiver)
    group = face_photo("ageitgey_face_recognition/examples/two_people.jpg")
    files = [("files", ("group.jpg", group))]
    upload = client.post(f"/api/events/{event.id}/photos", headers=headers, files=files)
    assert upload.status_code == 202, upload.text
    run_jobs(redis, "photos")
    _deliver(redis)
    [(sent, body)] = receiver.received
    assert webhooks.verify(secret, sent, body) == sent["webhook-id"]
    indexed = json.loads(body)
    assert indexed["type"] == "photo.indexed"
    assert indexed["data"]["photo_id"] == upload.json()["data"][0]["id"]
    assert indexed["data"]["faces"] == 2 and indexed["data"]["event_code"] == event.code

    quiet = register_attendee(client, event.code, email="quiet@example.com")
    sharing = register_attendee(client, event.code, email="open@example.com")
    assert client.put("/api/me/email-sharing", headers=sharing["headers"],
                      json={"share_email": True}).json() == {
        "share_email": True, "organiser_webhook": True}  # fmt: skip
    photo = create_photo(session, event=event, status="indexed")
    for attendee in (quiet, sharing):
        create_match(session, photo=photo, attendee_id=attendee["attendee_id"])
    _deliver(redis, event)
    matched = [b for b in receiver.bodies() if b["type"] == "match.created"]
    assert len(matched) == 2, "one delivery per photo and transaction"
    people = [entry for b in matched for entry in b["data"]["attendees"]]
    refs = {webhooks.attendee_ref(event.id, uuid.UUID(a["attendee_id"])): a
            for a in (quiet, sharing)}  # fmt: skip
    assert {p["id"] for p in people} == set(refs)
    assert [p.get("email") for p in people if refs[p["id"]] is quiet] == [None]
    assert [p.get("email") for p in people if refs[p["id"]] is sharing] == ["open@example.com"]
    everything = b"".join(body for _, body in receiver.received)
    assert b"quiet@example.com" not in everything
    for attendee in (quiet, sharing):
        assert attendee["attendee_id"].encode() not in everything, "never our ids"

    assert all(d.body == "" for d in _deliveries(session, event)), "no email kept once sent"
    log = client.get(f"/api/events/{event.id}/webhook", headers=headers).json()
    assert [d["state"] for d in log["deliveries"]] == ["delivered"] * 3
    assert log["deliveries"][-1]["kind"] == "photo.indexed"


def test_a_failing_receiver_is_retried_with_back_off_until_it_answers(
    client: TestClient, session: Session, redis: Redis, receiver: Receiver
) -> None:
    from api.reconciler.service import reconcile
    from core.queue import JobQueue

    event, headers, secret = _event(client, session, receiver)
    receiver.statuses = [500, 503]
    queued = client.post(f"/api/events/{event.id}/webhook/test", headers=headers)
    assert queued.status_code == 202
    waits = []
    for attempt in (1, 2, 3):
        _deliver(redis)
        [delivery] = _deliveries(session, event)
        assert delivery.attempts == attempt
        if attempt < 3:
            assert delivery.delivered_at is None and delivery.last_status == [500, 503][attempt - 1]
            waits.append(round((delivery.next_attempt_at - utcnow()).total_seconds()))
            _deliver(redis)  # not due yet: nothing is posted
            assert len(receiver.received) == attempt
            delivery.next_attempt_at = utcnow() - timedelta(seconds=1)  # time passes
            session.add(delivery)
            session.commit()
            report = reconcile(session, JobQueue(redis))
            session.commit()
            assert f"deliver-webhooks-{event.id}" in report.enqueued
    assert delivery.delivered_at is not None and delivery.last_status == 200
    assert 25 <= waits[0] <= 30 and 115 <= waits[1] <= 120, f"30 s, then 2 minutes: {waits}"
    ids = {sent["webhook-id"] for sent, _ in receiver.received}
    assert ids == {str(delivery.id)}, "one id on every attempt: the receiver drops repeats"
    for sent, body in receiver.received:
        webhooks.verify(secret, sent, body)


def test_a_delivery_is_given_up_after_its_last_attempt_and_the_log_says_why(
    client: TestClient, session: Session, redis: Redis, receiver: Receiver
) -> None:
    event, headers, _ = _event(client, session, receiver)
    receiver.statuses = [500] * webhooks.MAX_ATTEMPTS
    client.post(f"/api/events/{event.id}/webhook/test", headers=headers)
    for _ in range(webhooks.MAX_ATTEMPTS):
        _deliver(redis)
        [delivery] = _deliveries(session, event)
        delivery.next_attempt_at = utcnow() - timedelta(seconds=1)
        session.add(delivery)
        session.commit()
        _deliver(redis, event)
    assert len(receiver.received) == webhooks.MAX_ATTEMPTS
    [logged] = client.get(f"/api/events/{event.id}/webhook", headers=headers).json()["deliveries"]
    assert (logged["state"], logged["attempts"], logged["last_status"]) == (
        "failed", webhooks.MAX_ATTEMPTS, 500)  # fmt: skip
    assert logged["last_error"] == "HTTP 500"


def test_no_delivery_reaches_an_address_inside_the_platform(
    client: TestClient, session: Session, redis: Redis, receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    event, headers, _ = _event(client, session, receiver)
    client.post(f"/api/events/{event.id}/webhook/test", headers=headers)
    monkeypatch.setattr(settings, "WEBHOOK_PRIVATE_ADDRESSES", False)
    for url, code in (
        ("http://hooks.example.com/x", "webhook_url_not_https"),
        ("https://10.0.0.7/x", "webhook_url_not_public"),
        ("https://169.254.169.254/latest/meta-data", "webhook_url_not_public"),
        ("https://[::1]:8443/x", "webhook_url_not_public"),
        ("https://localhost/x", "webhook_url_not_public"),
        ("https://user:pw@hooks.example.com/x", "bad_webhook_url"),
        ("ftp://hooks.example.com/x", "webhook_url_not_https"),
    ):
        response = client.put(f"/api/events/{event.id}/webhook", headers=headers, json={"url": url})
        assert response.status_code == 400, url
        assert response.json()["code"] == code, url
    # Saved while allowed, or a public name that resolves inside now: checked at delivery,
    # on the address it resolves to then.
    _deliver(redis)
    [delivery] = _deliveries(session, event)
    assert delivery.last_error == "plain http is refused outside local mode"
    port = receiver.url.split(":")[2].split("/")[0]
    session.refresh(event)
    event.webhook_url = f"https://localhost:{port}/hooks"
    session.add(event)
    delivery.next_attempt_at = utcnow() - timedelta(seconds=1)
    session.add(delivery)
    session.commit()
    _deliver(redis, event)
    [delivery] = _deliveries(session, event)
    assert delivery.last_error == "localhost resolves to an address that is not public"
    assert delivery.delivered_at is None and receiver.received == []


def test_removing_the_webhook_leaves_no_delivery_and_no_secret(
    client: TestClient, session: Session, redis: Redis, receiver: Receiver
) -> None:
    event, headers, secret = _event(client, session, receiver)
    receiver.statuses = [500]
    client.post(f"/api/events/{event.id}/webhook/test", headers=headers)
    _deliver(redis)
    rotated = client.post(f"/api/events/{event.id}/webhook/secret", headers=headers).json()
    assert rotated["secret"] != secret
    assert client.delete(f"/api/events/{event.id}/webhook", headers=headers).status_code == 204
    assert _deliveries(session, event) == []
    session.refresh(event)
    assert (event.webhook_url, event.webhook_secret) == (None, None)
    assert client.post(f"/api/events/{event.id}/webhook/test", headers=headers).json()["code"] == (
        "no_webhook"
    )
    photo = create_photo(session, event=event, status="indexed")
    attendee = register_attendee(client, event.code)
    create_match(session, photo=photo, attendee_id=attendee["attendee_id"])
    assert _deliveries(session, event) == [], "no webhook: nothing is recorded"


def test_an_events_deletion_takes_its_deliveries(
    client: TestClient, session: Session, redis: Redis, receiver: Receiver
) -> None:
    event, headers, _ = _event(client, session, receiver)
    receiver.statuses = [500]
    client.post(f"/api/events/{event.id}/webhook/test", headers=headers)
    _deliver(redis)
    assert client.delete(f"/api/events/{event.id}", headers=headers).status_code == 202
    run_jobs(redis, "maintenance")
    assert session.exec(select(WebhookDelivery)).all() == []
    assert session.get(Attendee, uuid.uuid4()) is None


def test_one_run_posts_batch_after_batch_in_order(
    client: TestClient, session: Session, redis: Redis, receiver: Receiver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from workers.jobs import webhooks as job

    monkeypatch.setattr(job, "BATCH", 2)
    event, headers, _ = _event(client, session, receiver)
    sent = [client.post(f"/api/events/{event.id}/webhook/test", headers=headers).json()["id"]
            for _ in range(5)]  # fmt: skip
    assert job.deliver_webhooks(str(event.id)) == {"event_id": str(event.id), "delivered": 5}
    assert [headers["webhook-id"] for headers, _ in receiver.received] == sent, "in order"
    run_jobs(redis, "digests")  # the jobs the requests enqueued find nothing owed
    assert len(receiver.received) == 5


def test_an_attendee_who_leaves_is_taken_out_of_the_deliveries_still_owed(
    client: TestClient, session: Session, redis: Redis, receiver: Receiver
) -> None:
    """Deleting one's face data takes one out of the `match.created` deliveries not yet
    posted (the matches they tell of are gone); no longer sharing one's email takes the
    email out of them. A delivery left naming nobody is not posted."""
    from workers.webhooks import record_matches

    event, _, _ = _event(client, session, receiver)
    people = {name: register_attendee(client, event.code, email=f"{name}@example.com")
              for name in ("leaving", "staying", "private")}  # fmt: skip
    leaving, _, private = people.values()
    assert client.put("/api/me/email-sharing", headers=private["headers"],
                      json={"share_email": True}).status_code == 200  # fmt: skip
    ids = {name: uuid.UUID(who["attendee_id"]) for name, who in people.items()}
    ref = {name: webhooks.attendee_ref(event.id, id_) for name, id_ in ids.items()}
    both, alone, shared = (create_photo(session, event=event, status="indexed") for _ in "abc")
    record_matches(session, [
        (event.id, both.id, ids["leaving"], True, "leaving@example.com"),
        (event.id, both.id, ids["staying"], False, "staying@example.com"),
        (event.id, alone.id, ids["leaving"], True, "leaving@example.com"),
        (event.id, shared.id, ids["private"], True, "private@example.com"),
    ])  # fmt: skip
    session.commit()
    assert sum(ref["leaving"] in d.body for d in _deliveries(session, event)) == 2

    assert client.delete("/api/me/face-data", headers=leaving["headers"]).status_code == 200
    assert client.put("/api/me/email-sharing", headers=private["headers"],
                      json={"share_email": False}).status_code == 200  # fmt: skip
    owed = _deliveries(session, event)
    assert len(owed) == 2, "the delivery that named only the leaver is dropped"
    assert not any(ref["leaving"] in d.body or "@example.com" in d.body for d in owed)

    _deliver(redis, event)
    posted = {b["data"]["photo_id"]: b["data"]["attendees"] for b in receiver.bodies()}
    assert posted == {str(both.id): [{"id": ref["staying"]}],
                      str(shared.id): [{"id": ref["private"]}]}  # fmt: skip
