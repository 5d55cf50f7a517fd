"""Whose face is a selfie: one person per account, and one account per face at an event.

- Every selfie after an attendee's first must be of the same person
  (SELFIE_SAME_PERSON_DISTANCE): three selfies are three chances to be found, never three
  people's photos.
- A selfie within SELFIE_DUPLICATE_DISTANCE of another attendee's valid selfie at the
  event is held: not matched until the photographer or an admin releases it. The audit
  log gets a row, and the earlier attendee a mail (`api/reviews/service.py`, from the
  reconciler: workers write no mail).
"""

from __future__ import annotations

import contextlib
import functools
import uuid
from typing import Any, TypeVar

import numpy as np
from sqlmodel import Session, col, select

from core import audit, erasure
from core.config import settings
from core.db import on_commit, session_scope
from core.erasure import Erased, Reason
from core.models import AuditAction, Event, FaceOptOut, Selfie, SelfieStatus, utcnow
from core.redis import get_redis
from core.storage import get_storage
from workers import faces, liveness, matching
from workers.jobs.common import RowGone, audit_row
from workers.matching import face_cache

SAME_PERSON_HINT = (
    "this is not the person of your first selfie: an account finds one person's photos"
)


def first_selfie(session: Session, selfie: Selfie) -> Selfie | None:
    """The attendee's earliest other selfie that was judged to be a face."""
    return session.exec(
        select(Selfie)
        .where(
            Selfie.attendee_id == selfie.attendee_id,
            Selfie.id != selfie.id,
            col(Selfie.status).in_([SelfieStatus.valid, SelfieStatus.held]),
            col(Selfie.encoding).is_not(None),
        )
        .order_by(col(Selfie.created_at))
        .limit(1)
    ).first()


def another_person(session: Session, selfie: Selfie, encoding: np.ndarray) -> bool:
    """Whether `encoding` is too far from the attendee's first selfie to be them."""
    first = first_selfie(session, selfie)
    if first is None or first.encoding is None:
        return False
    distance = float(np.linalg.norm(np.asarray(first.encoding) - encoding))
    return distance > settings.SELFIE_SAME_PERSON_DISTANCE


def face_owner(session: Session, selfie: Selfie, encoding: np.ndarray) -> uuid.UUID | None:
    """Another attendee of the event whose valid selfie is this face, nearest first."""
    distance = col(Selfie.encoding).l2_distance(encoding.tolist())  # type: ignore[attr-defined]
    return session.exec(
        select(Selfie.attendee_id)
        .where(
            Selfie.event_id == selfie.event_id,
            Selfie.attendee_id != selfie.attendee_id,
            Selfie.status == SelfieStatus.valid,
            distance <= settings.SELFIE_DUPLICATE_DISTANCE,
        )
        .order_by(distance)
        .limit(1)
    ).first()


def hold(session: Session, selfie: Selfie, owner_id: uuid.UUID) -> None:
    """Hold `selfie` for review; the attendee whose face it is gets told."""
    selfie.status = SelfieStatus.held
    selfie.held_for = owner_id
    session.add(selfie)
    audit.record(session, AuditAction.selfie_held, event_id=selfie.event_id,
                 subject_id=selfie.id, actor="worker")  # fmt: skip


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
            erasure.record(
                session,
                Erased(selfie_images=1),
                event_id=selfie.event_id,
                subject_id=selfie.id,
                actor="worker",
                reason=Reason.judged,
            )
        if verdict.encoding is not None and another_person(session, selfie, verdict.encoding):
            verdict = faces.SelfieVerdict("another_person", SAME_PERSON_HINT)
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
        audit_row(session, AuditAction.selfie_encoding_created, selfie)
        owner = face_owner(session, selfie, verdict.encoding)
        if owner is not None:
            hold(session, selfie, owner)
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
    return {"selfie_id": str(selfie.id), "matches": matched.count}


def validate_selfie(selfie_id: str) -> dict[str, Any]:
    """Judge a selfie; a valid one is encoded and matched against the event's stored faces."""
    sid = uuid.UUID(selfie_id)
    claimed = claim_live(Selfie, sid)
    if claimed is None:
        return {"selfie_id": selfie_id, "skipped": True}
    _, key, steps = claimed
    return _finish_selfie(sid, judge(key, steps))


Live = TypeVar("Live", Selfie, FaceOptOut)


def claim_live(
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


def judge(key: str | None, steps: list[str] | None) -> faces.SelfieVerdict:
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
    """A held selfie the photographer or an admin released (`api/reviews/service.py`):
    valid from now, and matched."""
    sid = uuid.UUID(selfie_id)
    with session_scope() as session:
        selfie = session.get(Selfie, sid, with_for_update=True)
        if selfie is None:
            raise RowGone(f"selfie {selfie_id}")
        if selfie.status != SelfieStatus.valid or selfie.match_epoch is not None:
            return {"selfie_id": selfie_id, "skipped": True}
        return _match_selfie(session, selfie)
