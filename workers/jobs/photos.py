"""Photos: every face detected and encoded once, when the photo is indexed, then matched."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from sqlmodel import col, delete

from core import erasure
from core.config import settings
from core.db import lock_matching, session_scope
from core.erasure import Erased, Reason
from core.models import AuditAction, Event, Face, Photo, PhotoStatus, utcnow
from core.redis import get_redis
from core.storage import get_storage
from workers import faces, matching, webhooks
from workers.jobs import bibs, optouts
from workers.jobs.common import RowGone, audit_row
from workers.matching import selfie_cache


def _claim_photo(photo_id: uuid.UUID) -> tuple[Photo, bool] | None:
    """Mark the photo as being indexed, and say whether its event reads bibs; None when no
    work is owed."""
    with session_scope() as session:
        photo = session.get(Photo, photo_id, with_for_update=True)
        if photo is None:  # deleted by its photographer before its turn: nothing owed
            return None
        if photo.status in (PhotoStatus.indexed, PhotoStatus.failed):
            return None
        photo.status = PhotoStatus.indexing
        photo.attempts += 1
        photo.updated_at = utcnow()
        session.add(photo)
        event = session.get(Event, photo.event_id)
        return photo, bool(event and event.bibs_enabled)


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
    claim = _claim_photo(pid)
    if claim is None:
        return {"photo_id": photo_id, "skipped": True}
    claimed, reads_bibs = claim
    try:
        data = get_storage().get(claimed.storage_key)
    except FileNotFoundError:
        _fail_photo(pid, "the stored file is missing")
        return {"photo_id": photo_id, "error": "missing_file"}
    try:
        full, found = faces.index_photo(data, model=settings.DETECTOR)
    except faces.InvalidImage as exc:
        _fail_photo(pid, f"{exc.code}: {exc.detail}")
        return {"photo_id": photo_id, "error": exc.code}
    # Every face anchors a look for a bib, an opted-out one's too: a bib is no biometric.
    reads = bibs.read(full, [f.box for f in found]) if reads_bibs and found else []
    del full

    with session_scope() as session:
        lock_matching(session, claimed.event_id)  # before any row lock: see matching
        photo = session.get(Photo, pid, with_for_update=True)
        if photo is None:  # deleted while its faces were found: they are not stored
            return {"photo_id": photo_id, "skipped": True}
        if photo.status == PhotoStatus.indexed:
            return {"photo_id": photo_id, "skipped": True}
        event = session.get(Event, photo.event_id)
        if event is None:
            raise RowGone(f"event {photo.event_id}")
        found = optouts.keep_out(session, event.id, found)
        replaced = session.exec(delete(Face).where(col(Face.photo_id) == pid)).rowcount
        if replaced:
            erasure.record(
                session,
                Erased(face_encodings=replaced),
                event_id=photo.event_id,
                subject_id=photo.id,
                actor="worker",
                reason=Reason.reindexed,
            )
        if found:
            audit_row(session, AuditAction.face_encodings_created, photo, len(found))
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
        if reads_bibs:
            bibs.store(session, photo, reads)
        photo.status = PhotoStatus.indexed
        photo.face_count = len(found)
        photo.error = None
        photo.indexed_at = photo.updated_at = utcnow()
        session.add(photo)
        session.flush()
        webhooks.record_indexed(session, event, photo)
        if found:
            with contextlib.suppress(Exception):  # a hint for the next jobs, never a failure
                selfie_cache.mark_hot(get_redis(), event.id)
        matched = (
            matching.match_photo(
                session, event.id, pid, event.effective_tolerance(), settings.MATCH_MARGIN
            ).count
            if found
            else 0
        )
    return {"photo_id": photo_id, "faces": len(found), "matches": matched, "bibs": len(reads)}


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
    return {"photo_id": photo_id, "matches": matched.count}


def restore_match(photo_id: str) -> dict[str, Any]:
    """After a "not me" was taken back: the photo's matches again (`core.queue.restore_match`)."""
    return rematch_photo(photo_id)
