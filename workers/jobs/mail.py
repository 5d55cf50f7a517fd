"""Send outbox mails by SMTP, many over one connection. No face engine here.

The row says what is owed: a mail sent already, or gone with its event or attendee, is
not sent (again). A digest is not sent once its attendee has opted out, and a sign-in
mail not once its link has expired. Each mail is its own transaction, its row locked
while it is sent (a second job for it skips it meanwhile, then finds it sent). An SMTP
failure is written on the row and raised at the end of the batch, so RQ retries it with
backing off (`core.queue.EMAIL_RETRY_INTERVALS`); the retry skips what was sent.
"""

from __future__ import annotations

import contextlib
import logging
import smtplib
import ssl
import uuid
from collections import Counter
from collections.abc import Callable
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from types import TracebackType
from typing import Any

from sqlalchemy import update
from sqlmodel import Session, col, select

from core import queue
from core.config import settings
from core.db import session_scope
from core.models import Attendee, Email, EmailKind, utcnow
from core.redis import get_redis

log = logging.getLogger(__name__)

SEND_ERRORS = (OSError, smtplib.SMTPException)


def build_message(email: Email) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.MAIL_FROM
    message["To"] = email.to_address
    message["Subject"] = email.subject
    message["Date"] = formatdate(localtime=False)
    # Stable per outbox row: a retry after a lost reply is the same message to filters.
    message["Message-ID"] = make_msgid(idstring=email.id.hex, domain="facematch")
    if email.unsubscribe_url:
        message["List-Unsubscribe"] = f"<{email.unsubscribe_url}>"
        message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    if email.kind == EmailKind.digest:
        message["Auto-Submitted"] = "auto-generated"
    message.set_content(email.text_body or "")
    if email.html_body:
        message.add_alternative(email.html_body, subtype="html")
    return message


class Relay:
    """One SMTP connection for a batch of mails, opened on the first and reopened once
    if the server hangs up in between."""

    def __init__(self) -> None:
        self.smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        host, port = settings.smtp_address
        timeout = settings.SMTP_TIMEOUT_SECONDS
        context = ssl.create_default_context()
        smtp: smtplib.SMTP
        if settings.SMTP_SECURITY == "tls":
            smtp = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=timeout)
        if settings.SMTP_SECURITY == "starttls" and settings.SMTP_HOST:
            smtp.starttls(context=context)
        if settings.SMTP_USERNAME:
            smtp.login(settings.SMTP_USERNAME, settings.SMTP_PASSWORD)
        return smtp

    def send(self, message: EmailMessage) -> None:
        if self.smtp is None:
            self.smtp = self._open()
            self.smtp.send_message(message)
            return
        try:
            self.smtp.send_message(message)
        except smtplib.SMTPServerDisconnected:  # an idle or per-connection limit
            self.smtp = self._open()
            self.smtp.send_message(message)

    def drop(self) -> None:
        if self.smtp is not None:
            with contextlib.suppress(*SEND_ERRORS):
                self.smtp.close()
            self.smtp = None

    def __enter__(self) -> Relay:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:  # fmt: skip
        if self.smtp is not None:
            with contextlib.suppress(*SEND_ERRORS):
                self.smtp.quit()
        self.drop()


def _why_not(session: Session, email: Email) -> str | None:
    """Why the mail is no longer to be sent, or None."""
    if email.sent_at is not None:
        return "sent already"
    if email.expires_at is not None and email.expires_at <= utcnow():
        return "its link has expired"
    if email.kind == EmailKind.digest:
        attendee = session.get(Attendee, email.attendee_id) if email.attendee_id else None
        if attendee is None or not attendee.notify:
            return "the attendee opted out"
    return None


def _send_one(relay: Relay, email_id: uuid.UUID) -> str:
    failed: BaseException | None = None
    with session_scope() as session:
        email = session.exec(
            select(Email).where(Email.id == email_id).with_for_update(skip_locked=True)
        ).first()
        if email is None:
            return "gone, or being sent by another job"
        why_not = _why_not(session, email)
        if why_not is not None:
            if email.sent_at is None:  # never to be sent: it stops being owed
                session.delete(email)
            return why_not
        email.attempts += 1  # committed whatever happens next: every failure counts
        try:
            relay.send(build_message(email))
        except SEND_ERRORS as error:
            relay.drop()
            email.last_error, failed = str(error)[:500], error
        except Exception as error:  # no message can be made of it: no retry will help
            relay.drop()
            email.last_error = f"unsendable: {type(error).__name__}: {error}"[:500]
            log.error("mail %s cannot be sent: %s", email.id, email.last_error)
            session.add(email)
            return "unsendable"
        else:
            # Sent: the bodies go (a sign-in link lives in the table only until now).
            email.sent_at, email.last_error = utcnow(), None
            email.text_body = email.html_body = None
        session.add(email)
    if failed is not None:
        raise failed
    return "sent"


def deliver(
    email_ids: list[uuid.UUID], give_way: Callable[[], bool] | None = None
) -> tuple[dict[str, int], list[uuid.UUID]]:
    """Send each outbox row of `email_ids` once, over one connection: what happened to
    them, and the ids left unsent because `give_way()` said more urgent mail waits (a
    sign-in link: the caller queues the rest behind it). Raises the first SMTP failure
    after trying the others, for RQ's retry."""
    outcomes: Counter[str] = Counter()
    first_failure: BaseException | None = None
    left: list[uuid.UUID] = []
    with Relay() as relay:
        for n, email_id in enumerate(email_ids):
            if n and give_way is not None and give_way():
                left = email_ids[n:]
                break
            try:
                outcomes[_send_one(relay, email_id)] += 1
            except SEND_ERRORS as error:
                outcomes["failed"] += 1
                first_failure = first_failure or error
    if first_failure is not None:
        log.warning("%d of %d mails failed: %s", outcomes["failed"], len(email_ids),
                    first_failure)  # fmt: skip
        raise first_failure
    return dict(outcomes), left


def send_email(email_id: str) -> dict[str, Any]:
    """One outbox mail by SMTP; raises on an SMTP failure, for a retry."""
    outcomes, _ = deliver([uuid.UUID(email_id)])
    return {"email_id": email_id, **outcomes}


def send_emails(email_ids: list[str]) -> dict[str, Any]:
    """Outbox mails over one SMTP connection (digests: a job per SEND_BATCH of them). A
    sign-in link queued meanwhile goes first: the rest of the batch is queued behind it."""
    jobs = queue.JobQueue(get_redis())
    links = jobs.queues[queue.EMAILS]
    outcomes, left = deliver([uuid.UUID(e) for e in email_ids], give_way=lambda: links.count > 0)
    if left:
        spec = queue.send_emails(left)
        with session_scope() as session:
            session.connection().execute(
                update(Email).where(col(Email.id).in_(left)).values(job_id=spec.job_id)
            )
        jobs.enqueue(spec)
    return {"mails": len(email_ids), "left_for_later": len(left), **outcomes}
