"""RQ jobs. Each loads its rows by id, calls the face engine, and writes the results.

Every job is idempotent: the database row's status says whether work is owed,
results replace earlier ones in a single transaction, and matches are upserts.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from sqlmodel import col, delete

from api.config import settings
from api.db import session_scope
from api.models import Event, Face, Photo, PhotoStatus, Selfie, SelfieStatus, utcnow
from api.storage import get_storage
from workers import faces, matching

log = logging.getLogger(__name__)


class RowGone(LookupError):
    """The row a job was enqueued for no longer exists (deleted meanwhile)."""


def _claim_photo(photo_id: uuid.UUID) -> Photo | None:
    """Mark the photo as being indexed, or None when no work is owed."""
    with session_scope() as session:
        photo = session.get(Photo, photo_id, with_for_update=True)
        if photo is None:
            raise RowGone(f"photo {photo_id}")
        if photo.status in (PhotoStatus.indexed, PhotoStatus.failed):
            return None
        photo.status = PhotoStatus.indexing
        photo.attempts += 1
        photo.updated_at = utcnow()
        session.add(photo)
        return photo


def _fail_photo(photo_id: uuid.UUID, error: str) -> None:
    with session_scope() as session:
        photo = session.get(Photo, photo_id, with_for_update=True)
        if photo is None or photo.status == PhotoStatus.indexed:
            return
        photo.status = PhotoStatus.failed
        photo.error = error[:500]
        photo.updated_at = utcnow()
        session.add(photo)


def index_photo(photo_id: str) -> dict[str, Any]:
    """Detect and encode every face of a photo once, store them, and match them."""
    pid = uuid.UUID(photo_id)
    claimed = _claim_photo(pid)
    if claimed is None:
        return {"photo_id": photo_id, "skipped": True}
    try:
        data = get_storage().get(claimed.storage_key)
    except FileNotFoundError:
        _fail_photo(pid, "the stored file is missing")
        return {"photo_id": photo_id, "error": "missing_file"}
    try:
        _, found = faces.index_photo(data, model=settings.DETECTOR)
    except faces.InvalidImage as exc:
        _fail_photo(pid, f"{exc.code}: {exc.detail}")
        return {"photo_id": photo_id, "error": exc.code}

    with session_scope() as session:
        photo = session.get(Photo, pid, with_for_update=True)
        if photo is None:
            raise RowGone(f"photo {photo_id}")
        if photo.status == PhotoStatus.indexed:
            return {"photo_id": photo_id, "skipped": True}
        event = session.get(Event, photo.event_id)
        if event is None:
            raise RowGone(f"event {photo.event_id}")
        session.exec(delete(Face).where(col(Face.photo_id) == pid))
        for face in found:
            top, right, bottom, left = face.box
            session.add(
                Face(
                    photo_id=pid,
                    event_id=photo.event_id,
                    top=top,
                    right=right,
                    bottom=bottom,
                    left=left,
                    encoding=face.encoding.tolist(),
                    detected_width=face.detected_width,
                    detected_height=face.detected_height,
                    size_px=face.size,
                    quality=face.quality,
                )
            )
        photo.status = PhotoStatus.indexed
        photo.face_count = len(found)
        photo.error = None
        photo.indexed_at = photo.updated_at = utcnow()
        session.add(photo)
        session.flush()
        matched = (
            matching.match_photo(
                session, event.id, pid, event.effective_tolerance(), settings.MATCH_MARGIN
            )
            if found
            else 0
        )
    return {"photo_id": photo_id, "faces": len(found), "matches": matched}


def _finish_selfie(selfie_id: uuid.UUID, verdict: faces.SelfieVerdict) -> dict[str, Any]:
    with session_scope() as session:
        selfie = session.get(Selfie, selfie_id, with_for_update=True)
        if selfie is None:
            raise RowGone(f"selfie {selfie_id}")
        if selfie.status != SelfieStatus.pending:
            return {"selfie_id": str(selfie_id), "skipped": True}
        selfie.updated_at = utcnow()
        if not verdict.ok:
            selfie.status = SelfieStatus.rejected
            selfie.reason = verdict.reason
            selfie.detail = verdict.detail
            session.add(selfie)
            return {"selfie_id": str(selfie_id), "rejected": verdict.reason}
        assert verdict.encoding is not None
        selfie.status = SelfieStatus.valid
        selfie.encoding = verdict.encoding.tolist()
        selfie.quality = verdict.quality
        session.add(selfie)
        session.flush()
        event = session.get(Event, selfie.event_id)
        if event is None:
            raise RowGone(f"event {selfie.event_id}")
        matched = matching.match_attendee(
            session,
            event.id,
            selfie.attendee_id,
            event.effective_tolerance(),
            settings.MATCH_MARGIN,
        )
        return {"selfie_id": str(selfie_id), "matches": matched}


def validate_selfie(selfie_id: str) -> dict[str, Any]:
    """Judge a selfie; a valid one is encoded and matched against the event's stored faces."""
    sid = uuid.UUID(selfie_id)
    with session_scope() as session:
        selfie = session.get(Selfie, sid, with_for_update=True)
        if selfie is None:
            raise RowGone(f"selfie {selfie_id}")
        if selfie.status != SelfieStatus.pending:
            return {"selfie_id": selfie_id, "skipped": True}
        selfie.attempts += 1
        selfie.updated_at = utcnow()
        session.add(selfie)
        key = selfie.storage_key
    try:
        data = get_storage().get(key) if key else None
    except FileNotFoundError:
        data = None
    if data is None:
        verdict = faces.SelfieVerdict("unreadable_image", "the uploaded file is missing")
    else:
        verdict = faces.judge_selfie(data, jitters=settings.SELFIE_JITTERS)
    return _finish_selfie(sid, verdict)


def rematch_event(event_id: str) -> dict[str, Any]:
    """Recompute an event's matches from stored encodings; nothing is re-detected."""
    eid = uuid.UUID(event_id)
    with session_scope() as session:
        event = session.get(Event, eid, with_for_update=True)
        if event is None:
            raise RowGone(f"event {event_id}")
        matched = matching.rematch_event(
            session, eid, event.effective_tolerance(), settings.MATCH_MARGIN
        )
        event.rematched_at = utcnow()
        session.add(event)
    return {"event_id": event_id, "matches": matched}


def rematch_photo(photo_id: str) -> dict[str, Any]:
    """Recompute one photo's matches, e.g. after a "not me" freed one of its faces."""
    pid = uuid.UUID(photo_id)
    with session_scope() as session:
        photo = session.get(Photo, pid)
        if photo is None:
            raise RowGone(f"photo {photo_id}")
        event = session.get(Event, photo.event_id)
        if event is None:
            raise RowGone(f"event {photo.event_id}")
        matched = matching.match_photo(
            session, event.id, pid, event.effective_tolerance(), settings.MATCH_MARGIN
        )
    return {"photo_id": photo_id, "matches": matched}
