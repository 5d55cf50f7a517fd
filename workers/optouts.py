"""People in an event's photos who never joined, and asked to be left out of it.

Their live selfie (`workers/liveness.py`) says who they are; their faces within
OPT_OUT_DISTANCE go, with the matches and nearest-attendee rows that hang on them. The
encoding is kept only while the event is open, to leave them out of photos uploaded
later (`keep_out`), and is deleted when it closes (`api/events/service.py`).
"""

from __future__ import annotations

import uuid

import numpy as np
from sqlalchemy import delete
from sqlmodel import Session, col, select

from core.config import settings
from core.models import Face, FaceOptOut, OptOutStatus
from workers.faces import FoundFace


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
