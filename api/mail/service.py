"""Compose a mail into the `emails` outbox; a worker's `send_email` job sends it after commit.

The outbox row, not the RQ job, is the source of truth: a lost job is re-enqueued by
the reconciler (`unsent`), and a job that finds its row sent or gone does nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlmodel import Session

from api import i18n
from api.mail import repository
from core import queue
from core.db import defer
from core.models import Email, EmailKind, utcnow

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    extensions=["jinja2.ext.i18n"],
)
_templates.install_null_translations(newstyle=True)  # type: ignore[attr-defined]


PLATFORM_ACCENT = ("#5b4bdb", "#ffffff")
"""A mail's button colours when its event has no brand."""


def render(template: str, /, locale: str | None = None, **context: object) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of `template` in `locale` (an attendee's language; None:
    English): its .txt's first line is the subject. `brand` (an event's `Brand`, or None)
    puts the photographer's logo and accent on it."""
    context.update(i18n.template_context(locale or i18n.DEFAULT))
    brand = context.setdefault("brand", None)
    accent = (brand.accent, brand.accent_ink) if brand is not None else PLATFORM_ACCENT  # type: ignore[attr-defined]
    context.setdefault("accent", accent[0])
    context.setdefault("accent_ink", accent[1])
    text = _templates.get_template(f"{template}.txt").render(**context)
    first, _, body = text.partition("\n")
    subject = first.removeprefix("Subject: ").strip()
    html = _templates.get_template(f"{template}.html").render(subject=subject, **context)
    return subject, body.lstrip("\n"), html


def queue_mail(
    session: Session,
    *,
    kind: EmailKind,
    to: str,
    template: str,
    event_id: uuid.UUID | None = None,
    attendee_id: uuid.UUID | None = None,
    list_unsubscribe: str | None = None,
    expires_at: datetime | None = None,
    send: bool = True,
    locale: str | None = None,
    **context: object,
) -> Email:
    """Render `template` with `context` into an outbox row; its job is enqueued after
    the commit (unless `send` is false: the caller batches them, `send_in_batches`).
    `list_unsubscribe`: the one-click URL for the List-Unsubscribe header."""
    subject, text, html = render(template, locale, **context)
    email = Email(kind=kind, to_address=to, subject=subject, text_body=text, html_body=html,
                  event_id=event_id, attendee_id=attendee_id,
                  unsubscribe_url=list_unsubscribe, expires_at=expires_at)  # fmt: skip
    session.add(email)
    if send:
        spec = queue.send_email(email.id)
        email.job_id = spec.job_id
        defer(session, spec)
    return email


def send_in_batches(session: Session, emails: list[Email]) -> None:
    """A job per SEND_BATCH of `emails`, each over one SMTP connection, after the commit."""
    for start in range(0, len(emails), queue.SEND_BATCH):
        batch = emails[start : start + queue.SEND_BATCH]
        spec = queue.send_emails([email.id for email in batch])
        for email in batch:
            email.job_id = spec.job_id
        defer(session, spec)


SENT_KEPT_DAYS = 30
"""A sent mail's row (no body: to whom, what kind, when) is kept this long, then deleted."""
MAX_EMAIL_ATTEMPTS = 10
"""Sends of one mail, RQ's retries and the reconciler's re-enqueues together; then it is
left unsent with its last error (deleted after SENT_KEPT_DAYS)."""


def requeue_lost(session: Session, jobs: queue.JobQueue, *, older_than: timedelta,
                 limit: int) -> list[str]:  # fmt: skip
    """Mails still owed after `older_than` whose job RQ will not run (lost with Redis, or
    failed for good): a job of their own each; the job ids enqueued. A mail whose batch
    job is still queued, running or waiting for its retry is left to it."""
    owed = repository.owed_before(
        session, utcnow() - older_than, max_attempts=MAX_EMAIL_ATTEMPTS, limit=limit
    )
    active = jobs.active(sorted({e.job_id for e in owed if e.job_id}))
    enqueued = []
    for email in owed:
        if email.job_id in active:
            continue
        spec = queue.send_email(email.id)
        if spec.job_id in active:
            continue
        jobs.enqueue(spec)
        email.job_id = spec.job_id
        session.add(email)
        enqueued.append(spec.job_id)
    return enqueued


def purge_sent(session: Session) -> int:
    """Mails sent or given up SENT_KEPT_DAYS ago (the reconciler's pass)."""
    return repository.delete_created_before(session, utcnow() - timedelta(days=SENT_KEPT_DAYS))
