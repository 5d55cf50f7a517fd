"""Rebuild an event's `face_nearest` from scratch: BLAS finds the candidates, SQL decides.

`workers/matching/__init__.py` keeps each face's nearest attendees up to date one photo or one
selfie at a time. Building them for a whole event at once (an event loaded in bulk,
or a repair) that way would compare every face with every selfie in SQL: 10^10
distances for a million faces and ten thousand selfies, hours. Here numpy computes
them in float32 with BLAS, a block of faces at a time, and keeps every (face, selfie)
pair that can be of the face's top two (`selfie_cache.limits`, with its SLACK).
float32's error on these distances is under 1e-5, far inside SLACK, so no such pair is
missed; PostgreSQL then computes the exact distances of the candidates with pgvector,
as `reference_matches` does, and ranks them. The result is what the incremental path
would have built.
"""

from __future__ import annotations

import uuid

import numpy as np
from pgvector.psycopg import register_vector
from sqlmodel import Session

from core.config import NEAREST_RADIUS
from core.db import lock_matching
from workers.matching import statements as sql
from workers.matching.selfie_cache import limits, matrix

FACES_PER_BLOCK = 4000
"""Faces compared with all selfies at once: a 4000 x 10,000 float32 block is 160 MB."""


def rebuild(session: Session, event_id: uuid.UUID) -> int:
    """Replace the event's `face_nearest` rows; the number of faces with a row. Holds the
    event's matching lock: no match is made from half-built rows. Its look-alike flags
    start false: the event's rematch, which derives the matches from these rows, groups
    them first (`matching.rematch_event`)."""
    lock_matching(session, event_id)
    connection = session.connection().connection.driver_connection
    assert connection is not None  # a live psycopg connection, in the session's transaction
    register_vector(connection)
    with connection.cursor() as cursor:
        cursor.execute(sql.REBUILD_SELFIES, (event_id,))
        rows = cursor.fetchall()
        session.execute(sql.REBUILD_CLEAR, {"e": event_id})
        if not rows:
            session.execute(sql.NUMBER_ALL, {"e": event_id})
            return 0
        selfie_ids = [row[0] for row in rows]
        owners = np.unique([row[1].int for row in rows], return_inverse=True)[1]
        selfies = matrix([row[2] for row in rows])
        selfie_norms = (selfies * selfies).sum(axis=1)
        # Photos with a "not me": their faces keep every candidate, since a rejected
        # attendee among the nearest leaves room for the next one.
        cursor.execute(sql.REBUILD_REJECTED_PHOTOS, (event_id,))
        rejected = {row[0] for row in cursor.fetchall()}
        cursor.execute(sql.REBUILD_CANDIDATES_TABLE)
        # One server-side cursor over the event's faces (a keyset query per block sorted
        # the whole event each time).
        with connection.cursor(name="nearest_faces") as faces_cursor:
            faces_cursor.execute(sql.REBUILD_FACES, (event_id,))
            while block := faces_cursor.fetchmany(FACES_PER_BLOCK):
                faces = matrix([row[2] for row in block])
                squared = (faces * faces).sum(axis=1)[:, None] + selfie_norms[None, :]
                squared -= 2.0 * (faces @ selfies.T)
                keep = [row[1] in rejected for row in block]
                limit, _ = limits(np.sqrt(np.maximum(squared, 0.0)), owners, np.array(keep))
                face_index, selfie_index = np.nonzero(squared <= (limit**2)[:, None])
                with cursor.copy(sql.REBUILD_CANDIDATES_COPY) as copy:
                    for f, s in zip(face_index.tolist(), selfie_index.tolist(), strict=True):
                        copy.write_row((block[f][0], selfie_ids[s]))
    result = session.connection().execute(sql.BUILD, {"radius": NEAREST_RADIUS})
    session.execute(sql.NUMBER_ALL, {"e": event_id})
    return result.rowcount
