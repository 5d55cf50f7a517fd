"""Compose a mail into the `emails` outbox; a worker's `send_email` job sends it after commit.

The outbox row, not the RQ job, is the source of truth: a lost job is re-enqueued by
the reconciler (`unsent`), and a job that finds its row sent or gone does nothing.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import delete
from sqlmodel import Session, col, select

from api import queue
from api.config import settings
from api.db import defer
from api.models import Email, EmailKind, SignInLink, utcnow

_templates = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def render(template: str, /, **context: object) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of `template`: its .txt's first line is the subject."""
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
    **context: object,
) -> Email:
    """Render `template` with `context` into an outbox row; its job is enqueued after
    the commit. `list_unsubscribe`: the one-click URL for the List-Unsubscribe header."""
    subject, text, html = render(template, **context)
    email = Email(kind=kind, to_address=to, subject=subject, text_body=text, html_body=html,
                  event_id=event_id, attendee_id=attendee_id,
                  unsubscribe_url=list_unsubscribe, expires_at=expires_at)  # fmt: skip
    session.add(email)
    defer(session, queue.send_email(email.id))
    return email


SENT_KEPT_DAYS = 30
"""A sent mail's row (no body: to whom, what kind, when) is kept this long, then deleted."""
MAX_EMAIL_ATTEMPTS = 10
"""Sends of one mail, RQ's retries and the reconciler's re-enqueues together; then it is
left unsent with its last error (deleted after SENT_KEPT_DAYS)."""
SPENT_LINKS_KEPT_DAYS = 1


def unsent(session: Session, *, older_than: timedelta, limit: int) -> list[uuid.UUID]:
    """Mails still owed after `older_than`: the reconciler re-enqueues them (a job already
    queued, running or waiting for its retry is never doubled)."""
    cutoff = utcnow() - older_than
    return list(session.exec(
        select(Email.id)
        .where(col(Email.sent_at).is_(None), col(Email.created_at) < cutoff,
               col(Email.attempts) < MAX_EMAIL_ATTEMPTS)
        .order_by(col(Email.created_at)).limit(limit)
    ).all())  # fmt: skip


def public_url(path: str) -> str:
    return f"{settings.PUBLIC_URL.rstrip('/')}{path}"


def purge_spent(session: Session) -> None:
    """Sign-in links expired a day ago, and mails sent or given up SENT_KEPT_DAYS ago."""
    now = utcnow()
    session.connection().execute(
        delete(SignInLink).where(
            col(SignInLink.expires_at) < now - timedelta(days=SPENT_LINKS_KEPT_DAYS)
        )
    )
    session.connection().execute(
        delete(Email).where(col(Email.created_at) < now - timedelta(days=SENT_KEPT_DAYS))
    )
