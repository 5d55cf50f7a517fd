"""Events: rematches, a tolerance's preview, and the purge of bystanders' faces after close."""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import exists, func, update
from sqlmodel import col, delete, select

from core import erasure
from core.config import settings
from core.db import lock_matching, session_scope
from core.erasure import Erased, Reason
from core.models import (
    Attendee,
    Event,
    EventStatus,
    Face,
    Match,
    TolerancePreview,
    utcnow,
)
from core.storage import get_storage, preview_mark_of, previews_folder
from workers import matching
from workers.jobs.common import RowGone
from workers.matching import rules

log = logging.getLogger(__name__)


def rematch_event(event_id: str) -> dict[str, Any]:
    """Recompute an event's matches from stored encodings; nothing is re-detected."""
    eid = uuid.UUID(event_id)
    with session_scope() as session:
        lock_matching(session, eid)  # before the event's row lock: see matching
        event = session.get(Event, eid, with_for_update=True)
        if event is None:
            raise RowGone(f"event {event_id}")
        matched = matching.rematch_event(
            session, eid, event.effective_tolerance(), settings.MATCH_MARGIN
        )
        event.rematched_at = utcnow()
        session.add(event)
    return {"event_id": event_id, "matches": matched.count}


def sweep_previews(event_id: str) -> dict[str, Any]:
    """Delete the event's previews made under an older watermark than its current one: they
    are never served again (their keys name the mark), and would outlive their photos."""
    eid = uuid.UUID(event_id)
    with session_scope() as session:
        event = session.get(Event, eid)
        if event is None:
            raise RowGone(f"event {event_id}")
        version, mark = event.mark_version, event.preview_mark()
    storage = get_storage()
    stale = [key for key in storage.keys(previews_folder(eid))
             if preview_mark_of(key) not in (mark, None)]  # fmt: skip
    storage.delete_many(stale)
    with session_scope() as session:
        session.exec(
            update(Event)
            .where(col(Event.id) == eid, col(Event.marks_swept) < version)
            .values(marks_swept=version)
        )
    return {"event_id": event_id, "deleted": len(stale), "mark_version": version}


def preview_tolerance(event_id: str, tolerance: float) -> dict[str, Any]:
    """What `tolerance` would do to the event's matches, written to its preview row."""
    eid = uuid.UUID(event_id)
    with session_scope() as session:
        preview = session.get(TolerancePreview, (eid, tolerance))
        if preview is None:
            raise RowGone(f"tolerance preview {event_id} {tolerance}")
        # A snapshot of the kept nearest attendees: no matching lock, nothing is written.
        preview.result = rules.preview_tolerance(session, eid, tolerance, settings.MATCH_MARGIN)
        preview.status, preview.finished_at = "done", utcnow()
        session.add(preview)
        result = {k: v for k, v in preview.result.items() if k != "attendees"}
    return {"event_id": event_id, "tolerance": tolerance, **result}


def rematch_attendee(attendee_id: str) -> dict[str, Any]:
    """After an attendee consented to a new policy: what was not matched meanwhile."""
    aid = uuid.UUID(attendee_id)
    with session_scope() as session:
        attendee = session.get(Attendee, aid)
        event = session.get(Event, attendee.event_id) if attendee else None
        if attendee is None or event is None:
            raise RowGone(f"attendee {attendee_id}")
        matched = matching.rematch_attendee(
            session, event.id, aid, event.effective_tolerance(), settings.MATCH_MARGIN
        )
    return {"attendee_id": attendee_id, "matches": matched.count}


def purge_unmatched_faces(event_id: str) -> dict[str, Any]:
    """Delete the encodings of a closed event's faces that matched no attendee.

    Those are bystanders who never consented. It runs once the retention
    period after closing has passed, and again whenever matches are dropped
    later (an attendee deleting their face data), until none is left.
    """
    eid = uuid.UUID(event_id)
    with session_scope() as session:
        # No match may be made for a face while it is judged unmatched and deleted.
        lock_matching(session, eid)
        event = session.get(Event, eid, with_for_update=True)
        if event is None:
            raise RowGone(f"event {event_id}")
        retention = timedelta(hours=settings.UNMATCHED_FACE_RETENTION_HOURS)
        if (
            event.status != EventStatus.closed
            or event.closed_at is None
            or event.closed_at + retention > utcnow()
        ):
            return {"event_id": event_id, "skipped": True}
        unmatched = ~exists().where(col(Match.face_id) == col(Face.id))
        photo_counts = session.exec(
            select(Face.photo_id, func.count())
            .where(col(Face.event_id) == eid, unmatched)
            .group_by(col(Face.photo_id))
        ).all()
        deleted = session.exec(delete(Face).where(col(Face.event_id) == eid, unmatched)).rowcount
        for photo_id, count in photo_counts:
            erasure.record(session, Erased(face_encodings=count), event_id=eid,
                           subject_id=photo_id, actor="retention",
                           reason=Reason.unmatched_after_close)  # fmt: skip
    log.info("deleted %d unmatched face encodings of closed event %s", deleted, event_id)
    return {"event_id": event_id, "deleted": deleted}
