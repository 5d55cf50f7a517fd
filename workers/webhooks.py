"""What an event's webhook is told, written into its outbox in the transaction that made
it happen: a photo indexed (workers/jobs/photos.py) and a photo's new matches
(workers.matching.announce). The `deliver_webhooks` job posts them after the commit
(workers/jobs/webhooks.py); a rollback writes none.

A body names attendees by `core.webhooks.attendee_ref`, and adds an email only where its
attendee agreed to share it with the organiser.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from itertools import groupby
from typing import Any

from sqlmodel import Session

from core import queue
from core.db import defer
from core.models import Event, Photo, WebhookDelivery
from core.webhooks import attendee_ref, body


def record(session: Session, event_id: uuid.UUID, kind: str, data: dict[str, Any]) -> None:
    """A delivery for the event's webhook, and its event's delivery job after the commit."""
    session.add(WebhookDelivery(event_id=event_id, kind=kind, body=body(kind, data)))
    defer(session, queue.deliver_webhooks(event_id))


def record_indexed(session: Session, event: Event, photo: Photo) -> None:
    if not event.webhook_url:
        return
    captured = photo.captured_at.isoformat().replace("+00:00", "Z") if photo.captured_at else None
    record(session, event.id, "photo.indexed", {
        "event_id": str(event.id), "event_code": event.code, "photo_id": str(photo.id),
        "filename": photo.filename, "faces": photo.face_count, "captured_at": captured,
    })  # fmt: skip


def record_matches(session: Session, rows: Sequence[Any]) -> None:
    """`rows`: (event_id, photo_id, attendee_id, share_email, email) of new matches, in
    order; a delivery per event and photo."""
    for (event_id, photo_id), matched in groupby(rows, key=lambda row: (row[0], row[1])):
        attendees = []
        for _, _, attendee_id, share_email, email in matched:
            entry = {"id": attendee_ref(event_id, attendee_id)}
            if share_email:
                entry["email"] = email
            attendees.append(entry)
        data = {"event_id": str(event_id), "photo_id": str(photo_id), "attendees": attendees}
        record(session, event_id, "match.created", data)
