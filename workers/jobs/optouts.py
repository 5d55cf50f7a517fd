"""People in an event's photos who never joined, and asked to be left out of it.

Their live selfie (`workers/liveness.py`) says who they are; their faces within
OPT_OUT_DISTANCE go, with the matches and nearest-attendee rows that hang on them. The
encoding is kept only while the event is open, to leave them out of photos uploaded
later (`keep_out`), and is deleted when it closes (`api/events/service.py`).
"""

from __future__ import annotations

import functools
import uuid
from typing import Any

import numpy as np
from sqlalchemy import delete
from sqlmodel import Session, col, select

from core import audit, erasure, queue
from core.config import settings
from core.db import defer, lock_matching, on_commit, session_scope
from core.erasure import Erased, Reason
from core.models import AuditAction, Event, EventStatus, Face, FaceOptOut, OptOutStatus, utcnow
from core.storage import get_storage
from workers.faces import FoundFace
from workers.jobs.common import RowGone
from workers.jobs.selfies import claim_live, judge


def remove_faces(session: Session, event_id: uuid.UUID, encoding: np.ndarray) -> int:
    """Delete the event's faces near `encoding`; how many went."""
    distance = col(Face.encoding).l2_distance(encoding.tolist())  # type: ignore[attr-defined]
    result = session.connection().execute(
        delete(Face).where(col(Face.event_id) == event_id, distance <= settings.OPT_OUT_DISTANCE)
    )
    return int(result.rowcount or 0)


def keep_out(session: Session, event_id: uuid.UUID, found: list[FoundFace]) -> list[FoundFace]:
    """`found` without the faces of anyone who opted out of the event."""
    kept = session.exec(
        select(FaceOptOut.encoding).where(
            FaceOptOut.event_id == event_id,
            FaceOptOut.status == OptOutStatus.done,
            col(FaceOptOut.encoding).is_not(None),
        )
    ).all()
    if not kept or not found:
        return found
    refused = np.asarray([np.asarray(e, dtype=np.float64) for e in kept])
    return [
        face
        for face in found
        if np.linalg.norm(refused - face.encoding, axis=1).min() > settings.OPT_OUT_DISTANCE
    ]


def judge_opt_out(opt_out_id: str) -> dict[str, Any]:
    """Someone who never joined asked to be left out of an event: judge their live selfie,
    then remove their faces . Counts only go to the audit log."""
    oid = uuid.UUID(opt_out_id)
    claimed = claim_live(FaceOptOut, oid)
    if claimed is None:
        return {"opt_out_id": opt_out_id, "skipped": True}
    event_id, key, steps = claimed
    verdict = judge(key, steps)
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
        removed = remove_faces(session, event_id, verdict.encoding)
        row.status, row.faces_removed = OptOutStatus.done, removed
        audit.record(session, AuditAction.opt_out_faces_removed, event_id=event_id,
                     subject_id=oid, actor="worker", count=max(removed, 1))  # fmt: skip
        if event.status == EventStatus.open:
            row.encoding = verdict.encoding.tolist()  # until it closes: later uploads
        else:
            erasure.record(session, Erased(opt_out_encodings=1), event_id=event_id,
                           subject_id=oid, actor="worker", reason=Reason.event_closed)  # fmt: skip
        if removed:
            # A look-alike's group may have lost faces: the event's rematch, owed.
            event.rematch_requested_at = utcnow()
            session.add(event)
            defer(session, queue.rematch_event(event.id))
    return {"opt_out_id": opt_out_id, "faces_removed": removed}
