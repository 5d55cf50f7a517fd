"""Rebuild an event's `face_nearest` from scratch: BLAS finds the candidates, SQL decides.

`workers/matching.py` keeps each face's nearest attendees up to date one photo or one
selfie at a time. Building them for a whole event at once (an event loaded in bulk,
or a repair) that way would compare every face with every selfie in SQL: 10^10
distances for a million faces and ten thousand selfies, hours. Here numpy computes
them in float32 with BLAS, a block of faces at a time, and keeps every (face, selfie)
pair that can be of the face's top two (`workers.selfie_cache.limits`, with its SLACK).
float32's error on these distances is under 1e-5, far inside SLACK, so no such pair is
missed; PostgreSQL then computes the exact distances of the candidates with pgvector,
as `reference_matches` does, and ranks them. The result is what the incremental path
would have built.
"""

from __future__ import annotations

import uuid

import numpy as np
from pgvector.psycopg import register_vector
from sqlalchemy import text
from sqlmodel import Session

from core.config import NEAREST_RADIUS
from core.db import lock_matching
from workers.matching import CANDIDATE_PAIRS, RANK_TOP_TWO, UPSERT_NEAREST
from workers.selfie_cache import limits, matrix

FACES_PER_BLOCK = 4000
"""Faces compared with all selfies at once: a 4000 x 10,000 float32 block is 160 MB."""

_BUILD = text(
    "WITH"
    + CANDIDATE_PAIRS.format(
        pairs="""nearest_candidates c
  JOIN faces f ON f.id = c.face_id
  JOIN selfies s ON s.id = c.selfie_id"""
    )
    + RANK_TOP_TWO
    + UPSERT_NEAREST
)


# Every indexed photo of the event is numbered again: its faces' nearest attendees may
# have moved either way, and a worker's in-memory matrix must read them again
# (workers/face_cache.py). Photos loaded without the photo job join the event's epoch,
# and so do selfies loaded without the selfie job (workers/selfie_cache.py).
_NUMBER_ALL = text(
    """
WITH bumped AS (
  UPDATE events SET match_epoch = match_epoch + 1 WHERE id = :e RETURNING match_epoch
),
selfies AS (
  UPDATE selfies SET match_epoch = nextval('selfies_match_epoch_seq')
  WHERE event_id = :e AND status = 'valid' AND match_epoch IS NULL
)
UPDATE photos SET match_epoch = (SELECT match_epoch FROM bumped)
WHERE event_id = :e AND status = 'indexed'
"""
)


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
        cursor.execute(
            "SELECT id, attendee_id, encoding FROM selfies"
            " WHERE event_id = %s AND status = 'valid'",
            (event_id,),
        )
        rows = cursor.fetchall()
        session.execute(text("DELETE FROM face_nearest WHERE event_id = :e"), {"e": event_id})
        if not rows:
            session.execute(_NUMBER_ALL, {"e": event_id})
            return 0
        selfie_ids = [row[0] for row in rows]
        owners = np.unique([row[1].int for row in rows], return_inverse=True)[1]
        selfies = matrix([row[2] for row in rows])
        selfie_norms = (selfies * selfies).sum(axis=1)
        # Photos with a "not me": their faces keep every candidate, since a rejected
        # attendee among the nearest leaves room for the next one.
        cursor.execute(
            "SELECT DISTINCT r.photo_id FROM match_rejections r"
            " JOIN photos p ON p.id = r.photo_id WHERE p.event_id = %s",
            (event_id,),
        )
        rejected = {row[0] for row in cursor.fetchall()}
        cursor.execute(
            "CREATE TEMPORARY TABLE nearest_candidates (face_id uuid, selfie_id uuid)"
            " ON COMMIT DROP"
        )
        # One server-side cursor over the event's faces (a keyset query per block sorted
        # the whole event each time).
        with connection.cursor(name="nearest_faces") as faces_cursor:
            faces_cursor.execute(
                "SELECT id, photo_id, encoding FROM faces WHERE event_id = %s", (event_id,)
            )
            while block := faces_cursor.fetchmany(FACES_PER_BLOCK):
                faces = matrix([row[2] for row in block])
                squared = (faces * faces).sum(axis=1)[:, None] + selfie_norms[None, :]
                squared -= 2.0 * (faces @ selfies.T)
                keep = [row[1] in rejected for row in block]
                limit, _ = limits(np.sqrt(np.maximum(squared, 0.0)), owners, np.array(keep))
                face_index, selfie_index = np.nonzero(squared <= (limit**2)[:, None])
                with cursor.copy("COPY nearest_candidates (face_id, selfie_id) FROM STDIN") as copy:
                    for f, s in zip(face_index.tolist(), selfie_index.tolist(), strict=True):
                        copy.write_row((block[f][0], selfie_ids[s]))
    result = session.connection().execute(_BUILD, {"radius": NEAREST_RADIUS})
    session.execute(_NUMBER_ALL, {"e": event_id})
    return result.rowcount
