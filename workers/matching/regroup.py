"""Each attendee's faces grouped into people again, and the look-alike flags that changed
written to `face_nearest.lookalike` (the rule itself is lookalikes.py, pure)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np
from sqlmodel import Session

from core.config import settings
from workers.matching import lookalikes
from workers.matching import statements as sql

REGROUP_BATCH = 500
"""Attendees whose faces are read in one statement when a whole event is grouped again."""


def fetch_binary(session: Session, statement: str, params: dict[str, Any]) -> list[Any]:
    """Rows of a psycopg statement (`%(name)s` parameters) in the session's transaction,
    in binary."""
    driver = session.connection().connection.driver_connection
    assert driver is not None  # a live psycopg connection, in the session's transaction
    with driver.cursor(binary=True) as cursor:
        return cursor.execute(statement, params).fetchall()


def _matrix(encodings: Sequence[Any]) -> np.ndarray:
    """Encodings as one float32 matrix: from vector_send's bytes (a 4-byte header, then
    big-endian float4s), or from real[] lists."""
    if encodings and isinstance(encodings[0], bytes | memoryview):
        raw = np.frombuffer(b"".join(encodings), dtype=">f4").reshape(len(encodings), -1)
        return raw[:, 1:].astype(np.float32)
    return np.array(encodings, dtype=np.float32)


def lookalike_flags(rows: Sequence[Any], tolerance: float) -> list[tuple[object, bool]]:
    """(face id, flag) for rows (attendee, face, photo, distance, ..., encoding) sorted by
    attendee: the rule of lookalikes.py, one attendee at a time."""
    flags: list[tuple[object, bool]] = []
    start = 0
    while start < len(rows):
        end = start
        while end < len(rows) and rows[end][0] == rows[start][0]:
            end += 1
        group = rows[start:end]
        held = lookalikes.held_back(
            [r[2] for r in group],
            np.array([r[3] for r in group]),
            _matrix([r[5] for r in group]),
            tolerance=tolerance,
            link=settings.MATCH_LOOKALIKE_LINK,
            offset=settings.MATCH_LOOKALIKE_OFFSET,
        )
        flags.extend((r[1], bool(h)) for r, h in zip(group, held, strict=True))
        start = end
    return flags


def regroup(
    session: Session, attendee_ids: set[uuid.UUID], tolerance: float
) -> set[tuple[uuid.UUID, uuid.UUID]]:
    """Group each attendee's faces again and write the flags that changed; the (photo,
    attendee) pairs whose match those changes can move."""
    connection = session.connection()
    ids = sorted(attendee_ids)
    moved: set[tuple[uuid.UUID, uuid.UUID]] = set()
    scope = lookalikes.scope(tolerance)
    for start in range(0, len(ids), REGROUP_BATCH):
        # (less an ulp's worth: a mean of equal distances may round above their maximum)
        threshold = tolerance - settings.MATCH_LOOKALIKE_OFFSET - 1e-9
        batch = {"attendee_ids": ids[start : start + REGROUP_BATCH], "scope": scope,
                 "threshold": threshold}  # fmt: skip
        may_hold = connection.execute(sql.MAY_HOLD, batch).scalars().all()
        if not may_hold:
            continue
        params = {"attendee_ids": list(may_hold), "scope": scope}
        rows = fetch_binary(session, sql.GROUPED, params)
        was = {r[1]: (r[4], r[2], r[0]) for r in rows}
        changed = [(f, flag) for f, flag in lookalike_flags(rows, tolerance) if was[f][0] != flag]
        if changed:
            flags = {"face_ids": [f for f, _ in changed], "flags": [flag for _, flag in changed]}
            connection.execute(sql.SET_LOOKALIKE, flags)
            moved.update((was[f][1], was[f][2]) for f, _ in changed)
    return moved
