"""Digest mails: "12 new photos of you at <event>", one per attendee per interval.

The reconciler calls `queue_digests` on every pass. An attendee is due when they opted
in, their last digest is DIGEST_INTERVAL_MINUTES old (or there was none), and matches
were made since the last one counted (`attendees.digest_through`; a match that survives
a rematch keeps its `created_at`, so a rematch is not news). A photo is never a mail of
its own: whatever arrived within the interval is one count in one mail.

Only attendees with news are looked at: matching marks them (`attendees.news_since`,
`workers.matching.announce`) in the transaction that makes the match, and the digest
that counts their news clears the mark. A pass reads the marked rows by their partial
index, not every opted-in attendee's matches.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlmodel import Session

from api.auth.security import create_unsubscribe_token
from api.branding import service as branding
from api.digests import repository
from api.events.service import join_url
from api.links import public_url
from api.mail.service import queue_mail, send_in_batches
from api.signin.service import new_sign_in_link
from core.config import settings
from core.models import EmailKind, utcnow

BATCH = 1000
"""Attendees mailed per transaction; a pass takes batches until none is due."""
MAX_BATCHES = 20
"""At most this many batches per pass (20,000 mails); the next pass goes on. Each batch's
attendees are marked sent in the transaction, so the next batch finds the next ones."""


def unsubscribe_url(attendee_id: uuid.UUID) -> str:
    return public_url(f"/unsubscribe/{create_unsubscribe_token(attendee_id)}")


def one_click_url(attendee_id: uuid.UUID) -> str:
    """For the List-Unsubscribe header: a POST here unsubscribes (RFC 8058)."""
    return public_url(f"/api/unsubscribe/{create_unsubscribe_token(attendee_id)}")


def queue_digests(session: Session, *, now: datetime | None = None) -> int:
    """Compose every due digest into the outbox, a batch at a time (MAX_BATCHES at most);
    how many. Their jobs are enqueued when the caller's transaction commits."""
    now = now or utcnow()
    composed = 0
    for _ in range(MAX_BATCHES):
        read, batch = _compose_batch(session, now)
        composed += batch
        if read < BATCH:
            break
    return composed


def _compose_batch(session: Session, now: datetime) -> tuple[int, int]:
    """(attendees read, digests composed)."""
    due_before = now - timedelta(minutes=settings.DIGEST_INTERVAL_MINUTES)
    rows = repository.due(session, due_before, BATCH)
    if not rows:
        return 0, 0
    # News gone before its digest (a "not me", face data deleted): the mark goes, no mail.
    stale = [row.id for row in rows if not row[1]]
    if stale:
        repository.clear_news(session, stale)
    news = {row.id: (row[1], row.through) for row in rows if row[1]}
    found = repository.with_user_and_event(session, list(news))
    composed = []
    for attendee, user, event in found:
        count, through = news[attendee.id]
        composed.append(queue_mail(
            session, kind=EmailKind.digest, to=user.email, template="digest",
            event_id=event.id, attendee_id=attendee.id,
            unsubscribe_url=unsubscribe_url(attendee.id),
            list_unsubscribe=one_click_url(attendee.id),
            count=count, name=user.full_name, event_name=event.name,
            brand=branding.mail_brand(event), locale=attendee.locale,
            link=new_sign_in_link(session, attendee, user.email),
            event_url=join_url(event),
            minutes=settings.SIGN_IN_LINK_MINUTES, interval=settings.DIGEST_INTERVAL_MINUTES,
            send=False,
        ))  # fmt: skip
        attendee.digest_sent_at = now
        attendee.digest_through = through
        attendee.news_since = None
        session.add(attendee)
    send_in_batches(session, composed)
    session.flush()  # the next batch's query must see these attendees as done
    return len(rows), len(found)
