"""RQ jobs. Each loads its rows by id, calls the face engine, and writes the results.

Every job is idempotent: the database row's status says whether work is owed,
results replace earlier ones in a single transaction, and matches are upserts.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import uuid
from datetime import timedelta
from typing import Any, TypeVar

from sqlalchemy import exists, func, update
from sqlmodel import Session, col, delete, select

from core import audit, queue
from core.config import settings
from core.db import defer, lock_matching, on_commit, session_scope
from core.models import (
    Attendee,
    AuditAction,
    Email,
    Event,
    EventStatus,
    Face,
    FaceOptOut,
    ForgetOwed,
    Match,
    OptOutStatus,
    Photo,
    PhotoStatus,
    Selfie,
    SelfieStatus,
    TolerancePreview,
    utcnow,
)
from core.redis import get_redis
from core.storage import get_storage
from workers import (
    deletion,
    face_cache,
    faces,
    liveness,
    mailer,
    matching,
    optouts,
    selfie_cache,
    selfies,
)

log = logging.getLogger(__name__)


class RowGone(LookupError):
    """The row a job was enqueued for no longer exists (deleted meanwhile)."""


def _claim_photo(photo_id: uuid.UUID) -> Photo | None:
    """Mark the photo as being indexed, or None when no work is owed."""
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
            _audit(session, AuditAction.face_encodings_deleted, photo, replaced, "reindexed")
        if found:
            _audit(session, AuditAction.face_encodings_created, photo, len(found))
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
        if found:
            with contextlib.suppress(Exception):  # a hint for the next jobs, never a failure
                selfie_cache.mark_hot(get_redis(), event.id)
        matched = (
            matching.match_photo(
                session, event.id, pid, event.effective_tolerance(), settings.MATCH_MARGIN
            )
            if found
            else 0
        )
    return {"photo_id": photo_id, "faces": len(found), "matches": matched}


def _audit(
    session: Session,
    action: AuditAction,
    row: Photo | Selfie,
    count: int = 1,
    reason: str | None = None,
) -> None:
    audit.record(session, action, event_id=row.event_id, subject_id=row.id, actor="worker",
                 count=count, reason=reason)  # fmt: skip


def _finish_selfie(selfie_id: uuid.UUID, verdict: faces.SelfieVerdict) -> dict[str, Any]:
    """Store the verdict, and (by default) delete the selfie image once it is committed."""
    with session_scope() as session:
        selfie = session.get(Selfie, selfie_id, with_for_update=True)
        if selfie is None:
            raise RowGone(f"selfie {selfie_id}")
        if selfie.status != SelfieStatus.pending:
            return {"selfie_id": str(selfie_id), "skipped": True}
        selfie.updated_at = utcnow()
        if selfie.storage_key and not settings.KEEP_SELFIE_IMAGES:
            # The verdict and encoding are all that is kept; the file goes after the commit.
            on_commit(session, functools.partial(get_storage().delete, selfie.storage_key))
            selfie.storage_key = None
            _audit(session, AuditAction.selfie_image_deleted, selfie, reason="judged")
        if verdict.encoding is not None and selfies.another_person(
            session, selfie, verdict.encoding
        ):
            verdict = faces.SelfieVerdict("another_person", selfies.SAME_PERSON_HINT)
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
        _audit(session, AuditAction.selfie_encoding_created, selfie)
        owner = selfies.face_owner(session, selfie, verdict.encoding)
        if owner is not None:
            selfies.hold(session, selfie, owner)
            return {"selfie_id": str(selfie_id), "held": str(owner)}
        return _match_selfie(session, selfie)


def _match_selfie(session: Session, selfie: Selfie) -> dict[str, Any]:
    """Match a valid selfie against the event's stored faces."""
    session.flush()
    event = session.get(Event, selfie.event_id)
    if event is None:
        raise RowGone(f"event {selfie.event_id}")
    with contextlib.suppress(Exception):  # a hint for the next jobs, never this one's failure
        face_cache.mark_hot(get_redis(), event.id)
    matched = matching.match_attendee(
        session,
        event.id,
        selfie.attendee_id,
        event.effective_tolerance(),
        settings.MATCH_MARGIN,
    )
    return {"selfie_id": str(selfie.id), "matches": matched}


def validate_selfie(selfie_id: str) -> dict[str, Any]:
    """Judge a selfie; a valid one is encoded and matched against the event's stored faces."""
    sid = uuid.UUID(selfie_id)
    claimed = _claim_live(Selfie, sid)
    if claimed is None:
        return {"selfie_id": selfie_id, "skipped": True}
    _, key, steps = claimed
    return _finish_selfie(sid, _judge(key, steps))


Live = TypeVar("Live", Selfie, FaceOptOut)


def _claim_live(
    model: type[Live], row_id: uuid.UUID
) -> tuple[uuid.UUID, str | None, list[str] | None] | None:
    """Count an attempt at judging a pending selfie or opt-out: (its event, its stored
    file, its challenge's steps), or None when it is judged already."""
    with session_scope() as session:
        row = session.get(model, row_id, with_for_update=True)
        if row is None:
            raise RowGone(f"{model.__tablename__} {row_id}")
        if row.status != "pending":
            return None
        row.attempts += 1
        row.updated_at = utcnow()
        session.add(row)
        return row.event_id, row.storage_key, row.steps


def _judge(key: str | None, steps: list[str] | None) -> faces.SelfieVerdict:
    """The verdict on a stored selfie: a file, or a live selfie's frames (`steps`)."""
    try:
        data = get_storage().get(key) if key else None
    except FileNotFoundError:
        data = None
    if data is None:
        return faces.SelfieVerdict("unreadable_image", "the uploaded file is missing")
    if steps is not None:
        return liveness.judge_live(
            liveness.unpack_frames(data), steps, jitters=settings.SELFIE_JITTERS
        )
    return faces.judge_selfie(data, jitters=settings.SELFIE_JITTERS)


def release_selfie(selfie_id: str) -> dict[str, Any]:
    """A held selfie the photographer or an admin released (`api/attendees/review.py`):
    valid from now, and matched."""
    sid = uuid.UUID(selfie_id)
    with session_scope() as session:
        selfie = session.get(Selfie, sid, with_for_update=True)
        if selfie is None:
            raise RowGone(f"selfie {selfie_id}")
        if selfie.status != SelfieStatus.valid or selfie.match_epoch is not None:
            return {"selfie_id": selfie_id, "skipped": True}
        return _match_selfie(session, selfie)


def judge_opt_out(opt_out_id: str) -> dict[str, Any]:
    """Someone who never joined asked to be left out of an event: judge their live selfie,
    then remove their faces (`workers/optouts.py`). Counts only go to the audit log."""
    oid = uuid.UUID(opt_out_id)
    claimed = _claim_live(FaceOptOut, oid)
    if claimed is None:
        return {"opt_out_id": opt_out_id, "skipped": True}
    event_id, key, steps = claimed
    verdict = _judge(key, steps)
    with session_scope() as session:
        lock_matching(session, event_id)  # before any row lock: see matching
        row = session.get(FaceOptOut, oid, with_for_update=True)
        event = session.get(Event, event_id)
        if row is None or event is None:
            raise RowGone(f"opt-out {opt_out_id}")
        if row.status != OptOutStatus.pending:
            return {"opt_out_id": opt_out_id, "skipped": True}
        row.updated_at = utcnow()
        if row.storage_key:
            on_commit(session, functools.partial(get_storage().delete, row.storage_key))
            row.storage_key = None
        session.add(row)
        if not verdict.ok or verdict.encoding is None:
            row.status, row.reason, row.detail = (
                OptOutStatus.rejected,
                verdict.reason,
                verdict.detail,
            )
            return {"opt_out_id": opt_out_id, "rejected": verdict.reason}
        removed = optouts.remove_faces(session, event_id, verdict.encoding)
        row.status, row.faces_removed = OptOutStatus.done, removed
        audit.record(session, AuditAction.opt_out_faces_removed, event_id=event_id,
                     subject_id=oid, actor="worker", count=max(removed, 1))  # fmt: skip
        if event.status == EventStatus.open:
            row.encoding = verdict.encoding.tolist()  # until it closes: later uploads
        else:
            audit.record(session, AuditAction.opt_out_encoding_deleted, event_id=event_id,
                         subject_id=oid, actor="worker", reason="event_closed")  # fmt: skip
        if removed:
            # A look-alike's group may have lost faces: the event's rematch, owed.
            event.rematch_requested_at = utcnow()
            session.add(event)
            defer(session, queue.rematch_event(event.id))
    return {"opt_out_id": opt_out_id, "faces_removed": removed}


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
    return {"event_id": event_id, "matches": matched}


def preview_tolerance(event_id: str, tolerance: float) -> dict[str, Any]:
    """What `tolerance` would do to the event's matches, written to its preview row."""
    eid = uuid.UUID(event_id)
    with session_scope() as session:
        preview = session.get(TolerancePreview, (eid, tolerance))
        if preview is None:
            raise RowGone(f"tolerance preview {event_id} {tolerance}")
        # A snapshot of the kept nearest attendees: no matching lock, nothing is written.
        preview.result = matching.preview_tolerance(session, eid, tolerance, settings.MATCH_MARGIN)
        preview.status, preview.finished_at = "done", utcnow()
        session.add(preview)
        result = {k: v for k, v in preview.result.items() if k != "attendees"}
    return {"event_id": event_id, "tolerance": tolerance, **result}


def forget_attendee(attendee_id: str) -> dict[str, Any]:
    """After an attendee's face data was deleted: the faces that named them, again."""
    aid = uuid.UUID(attendee_id)
    with session_scope() as session:
        # The attendee's row may be gone too (a deleted account): the faces name its event.
        event_id = matching.event_of_attendee(session, aid)
        event = session.get(Event, event_id) if event_id else None
        matched = (
            matching.forget_attendee(
                session, event.id, aid, event.effective_tolerance(), settings.MATCH_MARGIN
            )
            if event is not None
            else None
        )
        # Paid, under the event's matching lock: a deletion after this one waits for it and
        # owes the job again.
        session.exec(delete(ForgetOwed).where(col(ForgetOwed.attendee_id) == aid))
    if matched is None:
        return {"attendee_id": attendee_id, "skipped": True}  # no face names them
    return {"attendee_id": attendee_id, "matches": matched}


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
    return {"attendee_id": attendee_id, "matches": matched}


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


def restore_match(photo_id: str) -> dict[str, Any]:
    """After a "not me" was taken back: the photo's matches again (`core.queue.restore_match`)."""
    return rematch_photo(photo_id)


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
            audit.record(session, AuditAction.face_encodings_deleted, event_id=eid,
                         subject_id=photo_id, actor="retention", count=count,
                         reason="unmatched_after_close")  # fmt: skip
    log.info("deleted %d unmatched face encodings of closed event %s", deleted, event_id)
    return {"event_id": event_id, "deleted": deleted}


def delete_event(event_id: str) -> dict[str, Any]:
    """Everything of an event being deleted, in batches that each commit (workers/deletion.py)."""
    done = deletion.delete_event(uuid.UUID(event_id))
    if done is None:
        return {"event_id": event_id, "skipped": True}  # gone already, or not being deleted
    return {"event_id": event_id, **done}


def send_email(email_id: str) -> dict[str, Any]:
    """One outbox mail by SMTP (workers/mailer.py); raises on an SMTP failure, for a retry."""
    outcomes, _ = mailer.send_emails([uuid.UUID(email_id)])
    return {"email_id": email_id, **outcomes}


def send_emails(email_ids: list[str]) -> dict[str, Any]:
    """Outbox mails over one SMTP connection (digests: a job per SEND_BATCH of them). A
    sign-in link queued meanwhile goes first: the rest of the batch is queued behind it."""
    jobs = queue.JobQueue(get_redis())
    links = jobs.queues[queue.EMAILS]
    outcomes, left = mailer.send_emails(
        [uuid.UUID(e) for e in email_ids], give_way=lambda: links.count > 0
    )
    if left:
        spec = queue.send_emails(left)
        with session_scope() as session:
            session.connection().execute(
                update(Email).where(col(Email.id).in_(left)).values(job_id=spec.job_id)
            )
        jobs.enqueue(spec)
    return {"mails": len(email_ids), "left_for_later": len(left), **outcomes}
