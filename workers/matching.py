"""Matching is SQL over stored encodings: pgvector queries, never a loop over photos.

The rules, at event scale:
- each face goes to at most one attendee: the nearest, if its distance is
  within the event's tolerance and, when a margin is set, the runner-up
  attendee is at least `margin` further away (an ambiguous face goes to nobody);
- a weak face (quality under MATCH_WEAK_QUALITY: tiny, blurred or both) must
  be MATCH_WEAK_PENALTY nearer than the tolerance: weak encodings drift
  towards strangers (loadtest/README.md, "Crowds");
- an attendee's distance to a face is the smallest over their valid selfies;
- an attendee gets each photo at most once, through their best face in it;
- a photo the attendee said "not me" to is never matched to them again;
- a face in a group that is a look-alike's, not the attendee's, is matched to nobody
  (workers/lookalikes.py: each attendee's faces grouped into people).

`reference_matches` states them as one brute-force statement over every face and
selfie pair. The product does not run it: its cost grows as faces x attendees (a
200 k-face event took 200 s). Instead each face's nearest attendee and runner-up
are kept in `face_nearest`, and matches are a filter over those numbers:

- the nearest attendee, exact, when within NEAREST_RADIUS (the loosest tolerance
  plus the largest margin allowed);
- the runner-up, exact, when within MAX_MATCH_MARGIN of the nearest: the only case
  in which the margin rule can turn a match down. Further away, the row may hold
  an older runner-up or none, but never one within MAX_MATCH_MARGIN that is not
  the runner-up. So a new selfie leaves alone the faces it would only be a distant
  runner-up of: most of the faces near a "hub" selfie (one near many strangers).

They are kept up to date as the event changes:

- a photo is indexed: its faces against the event's valid selfies (from MIN_SELFIES up,
  only those a worker's matrix of them finds near: workers/selfie_cache.py);
- a selfie becomes valid: only faces within the radius of it can change, and for
  them the new top two is among the kept two and the newcomer;
- a selfie goes (`forget_attendee`), or "not me": the faces that named that
  attendee (or that photo's faces) against the selfies left;
- a tolerance change: no distance to a selfie, a filter over `face_nearest` after each
  attendee's faces are grouped again (the grouping scope moves with the tolerance).

Whenever one of these changes which faces an attendee is nearest to, or how near, that
attendee's faces are grouped again (`regroup`), the changed flags are written to
`face_nearest.lookalike`, and the (photo, attendee) pairs they move are matched again.

`tests/workers/test_matching.py` and `make bench-scale` check that the two give the
same matches.

Every function recomputes the matches of a set of photos from scratch and
writes only the difference, so running it twice changes nothing and a match
that survives keeps its `created_at`.

Matching within an event is serialized by a transaction-level advisory lock.
Without it, a photo indexed while a selfie is judged could be matched by
neither: each transaction's statement sees only the other's committed rows,
and each commits without the other's. With it, whichever matches second sees
what the first committed. A transaction that takes row locks as well must call
`core.db.lock_matching` first, so that every transaction takes its locks in the
same order; the API's writers of matches take it too.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
from sqlalchemy import TextClause, text
from sqlmodel import Session

from core.config import MAX_MATCH_MARGIN, NEAREST_RADIUS, settings
from core.db import lock_matching
from workers import face_cache, lookalikes, selfie_cache

_VALID = "EXISTS (SELECT 1 FROM selfies v WHERE v.attendee_id = {0} AND v.status = 'valid')"
# Matched only under the current policy: after the policy version changes, an attendee's
# face still counts as theirs (a face of theirs never goes to a runner-up), but nothing
# is matched to them until they consent again (api/attendees/service.py: give_consent).
_CONSENTED = (
    "EXISTS (SELECT 1 FROM attendees c WHERE c.id = {0}"
    " AND c.consent_policy_version = :consent_version)"
)

# -- face_nearest: each face's two nearest attendees ---------------------------------------

# Shared with workers/nearest.py: rank a `cand` CTE (face, attendee, distance) into each
# face's top two (`top`), and write them.
UPSERT_NEAREST = """
INSERT INTO face_nearest (face_id, event_id, photo_id, attendee_id, distance,
                          runner_up_attendee_id, runner_up, quality)
SELECT top.face_id, f.event_id, f.photo_id, top.attendee_id, top.distance,
       top.runner_up_attendee_id, top.runner_up, f.quality
FROM top JOIN faces f ON f.id = top.face_id
ON CONFLICT (face_id) DO UPDATE
  SET attendee_id = EXCLUDED.attendee_id, distance = EXCLUDED.distance,
      runner_up_attendee_id = EXCLUDED.runner_up_attendee_id, runner_up = EXCLUDED.runner_up
  WHERE (face_nearest.attendee_id, face_nearest.distance,
         face_nearest.runner_up_attendee_id, face_nearest.runner_up)
        IS DISTINCT FROM (EXCLUDED.attendee_id, EXCLUDED.distance,
                          EXCLUDED.runner_up_attendee_id, EXCLUDED.runner_up)
"""
RANK_TOP_TWO = """
ranked AS (
  SELECT face_id, attendee_id, distance,
         row_number() OVER w AS rank,
         lead(attendee_id) OVER w AS runner_up_attendee_id,
         lead(distance) OVER w AS runner_up
  FROM cand
  WINDOW w AS (PARTITION BY face_id ORDER BY distance, attendee_id)
),
top AS (SELECT * FROM ranked WHERE rank = 1)
"""
# Also shared: each (face f, attendee of selfie s) pair from `{pairs}` within the radius,
# at the attendee's nearest selfie, but for a "not me" on the face's photo.
CANDIDATE_PAIRS = """
cand AS (
  SELECT f.id AS face_id, s.attendee_id, min(f.encoding <-> s.encoding) AS distance
  FROM {pairs}
  WHERE f.encoding <-> s.encoding <= :radius
    AND NOT EXISTS (
      SELECT 1 FROM match_rejections r
      WHERE r.attendee_id = s.attendee_id AND r.photo_id = f.photo_id
    )
  GROUP BY f.id, s.attendee_id
),"""
_ALL_SELFIES = """faces f
  JOIN scope ON scope.face_id = f.id
  JOIN selfies s ON s.event_id = f.event_id AND s.status = 'valid'"""


def _recompute_nearest(scope: str, pairs: str = _ALL_SELFIES) -> TextClause:
    """The top two of each face of `scope` (face_id) from the pairs `pairs` joins as faces
    f and selfies s: written, or deleted where none is left."""
    return text(
        f"WITH scope AS ({scope}),"
        + CANDIDATE_PAIRS.format(pairs=pairs)
        + RANK_TOP_TWO
        + """,
gone AS (
  DELETE FROM face_nearest n USING scope
  WHERE n.face_id = scope.face_id AND NOT EXISTS (SELECT 1 FROM top WHERE top.face_id = n.face_id)
)"""
        + UPSERT_NEAREST
    )


_OF_PHOTO = "SELECT id AS face_id FROM faces WHERE photo_id = :photo_id"
_NEAREST_OF_PHOTO = _recompute_nearest(_OF_PHOTO)
# The same from a worker's in-memory matrix of the event's selfies (workers/selfie_cache.py):
# the photo's faces against the selfies it found near one of them, and against every
# selfie it has not seen, given as one array. (A union with a scan of the unseen selfies,
# whose estimate the planner took from stale statistics, once made it hash all the event's
# faces: 250 ms a photo; and (face, selfie) pairs made it hash all the event's selfies.)
_NEAREST_OF_PHOTO_SELFIES = _recompute_nearest(
    _OF_PHOTO,
    """faces f
  JOIN scope ON scope.face_id = f.id
  JOIN selfies s ON s.id = ANY(CAST(:selfie_ids AS uuid[])) AND s.status = 'valid'""",
)
_FACES_OF_PHOTO = text(
    "SELECT id, CAST(encoding AS real[]), EXISTS (SELECT 1 FROM match_rejections"
    " WHERE photo_id = :photo_id) FROM faces WHERE photo_id = :photo_id ORDER BY id"
)
# How many of the witnesses are valid still, and the valid selfies the matrix has not seen:
# numbered after it was read, or not yet (their selfie job has not matched them).
_WITNESSES_AND_UNSEEN = text(
    """
SELECT (SELECT count(*) FROM selfies WHERE id = ANY(CAST(:witnesses AS uuid[]))
          AND status = 'valid'),
       ARRAY(SELECT id FROM selfies WHERE event_id = :event_id AND match_epoch > :selfie_epoch
               AND status = 'valid'
             UNION ALL
             SELECT id FROM selfies WHERE event_id = :event_id AND match_epoch IS NULL
               AND status = 'valid')
"""
)
# A valid selfie's number, under the event's matching lock, so that within an event the
# numbers follow the commits (workers/selfie_cache.py).
_NUMBER_SELFIES = text(
    "UPDATE selfies SET match_epoch = nextval('selfies_match_epoch_seq')"
    " WHERE attendee_id = :attendee_id AND status = 'valid' AND match_epoch IS NULL"
)
# Faces whose top two names an attendee with no valid selfie left (face data deleted).
_STALE = f"""
SELECT n.face_id, n.photo_id FROM face_nearest n
WHERE n.event_id = :event_id
  AND (NOT {_VALID.format("n.attendee_id")}
       OR (n.runner_up_attendee_id IS NOT NULL AND NOT {_VALID.format("n.runner_up_attendee_id")}))
"""
_PHOTOS_STALE = text(f"SELECT DISTINCT photo_id FROM ({_STALE}) stale")
_NEAREST_STALE = _recompute_nearest(f"SELECT face_id FROM ({_STALE}) stale")
# A new valid selfie: the faces within the radius of one of the attendee's selfies, with
# the attendee's distance to each. The scan over every face of the event runs before the
# matching lock (it is the costly part: the lock must not queue the event's selfies); the
# event's epoch in the same snapshot says which photos it saw.
_NEAR = """
SELECT f.id AS face_id, min(f.encoding <-> s.encoding) AS distance
FROM {faces}
CROSS JOIN (SELECT encoding FROM selfies WHERE attendee_id = :attendee_id AND status = 'valid') s
WHERE {where} AND f.encoding <-> s.encoding <= :radius
  AND NOT EXISTS (
    SELECT 1 FROM match_rejections r WHERE r.attendee_id = :attendee_id AND r.photo_id = f.photo_id
  )
GROUP BY f.id
"""
_NEAR_ATTENDEE = text(
    "SELECT (SELECT match_epoch FROM events WHERE id = :event_id),"
    " coalesce(array_agg(face_id), '{}'), coalesce(array_agg(distance), '{}') FROM ("
    + _NEAR.format(faces="faces f", where="f.event_id = :event_id")
    + ") near"
)
# The same from a worker's in-memory matrix of the event's faces (workers/face_cache.py):
# its candidates, and the faces of the photos numbered since the matrix was read.
_NEAR_CANDIDATES = text(
    "SELECT (SELECT match_epoch FROM events WHERE id = :event_id),"
    " coalesce(array_agg(face_id), '{}'), coalesce(array_agg(distance), '{}') FROM ("
    + _NEAR.format(
        faces="""(
          SELECT f.id, f.photo_id, f.encoding
          FROM unnest(CAST(:candidates AS uuid[])) AS c(id) JOIN faces f ON f.id = c.id
          UNION ALL
          SELECT f.id, f.photo_id, f.encoding FROM photos p JOIN faces f ON f.photo_id = p.id
          WHERE p.event_id = :event_id AND p.match_epoch > :cached_epoch
        ) f""",
        where="true",
    )
    + ") near"
)
_SELFIES_OF = text(
    "SELECT CAST(encoding AS real[]) FROM selfies WHERE attendee_id = :attendee_id"
    " AND status = 'valid'"
)
# Under the lock: the photos whose nearest attendees were computed after that snapshot.
_NEAR_ATTENDEE_SINCE = text(
    _NEAR.format(
        faces="photos p JOIN faces f ON f.photo_id = p.id",
        where="p.event_id = :event_id AND p.match_epoch > :epoch",
    )
)
# For those faces the new top two is among the stored two and this attendee: the
# attendee's distances only got smaller. The photos whose matches can change are
# returned (a change of tolerance or settings is the event's rematch).
_MERGE_ATTENDEE = text(
    """
WITH given AS (
  SELECT * FROM unnest(CAST(:face_ids AS uuid[]), CAST(:distances AS float8[]))
    AS given(face_id, distance)
),
near AS (  -- the faces where the attendee comes in among the kept two (or already is)
  SELECT g.face_id, g.distance FROM given g LEFT JOIN face_nearest n USING (face_id)
  WHERE n.face_id IS NULL
     OR :attendee_id IN (n.attendee_id, n.runner_up_attendee_id)
     OR (g.distance, CAST(:attendee_id AS uuid)) < (n.distance, n.attendee_id)
     OR (g.distance <= n.distance + :max_margin
         AND (n.runner_up IS NULL
              OR (g.distance, CAST(:attendee_id AS uuid)) < (n.runner_up, n.runner_up_attendee_id)))
),
old AS (SELECT n.* FROM face_nearest n JOIN near USING (face_id)),
cand AS (
  SELECT face_id, attendee_id, distance FROM old WHERE attendee_id <> :attendee_id
  UNION ALL
  SELECT face_id, runner_up_attendee_id, runner_up FROM old
  WHERE runner_up_attendee_id IS NOT NULL AND runner_up_attendee_id <> :attendee_id
  UNION ALL
  SELECT face_id, CAST(:attendee_id AS uuid), distance FROM near
),"""
    + RANK_TOP_TWO
    + ", kept AS ("
    + UPSERT_NEAREST
    + """ RETURNING 1)
-- The (photo, attendee) pairs whose match at this tolerance and margin can differ: for a
-- face within the tolerance whose nearest attendee, distance, or margin verdict changed,
-- its nearest attendee before and after. No other attendee's match in the photo moves:
-- each is decided by the faces it is the nearest attendee of, and those did not change.
SELECT DISTINCT f.photo_id, named.attendee_id
FROM top JOIN faces f ON f.id = top.face_id LEFT JOIN old ON old.face_id = top.face_id
CROSS JOIN LATERAL (VALUES (top.attendee_id), (old.attendee_id)) AS named(attendee_id)
WHERE named.attendee_id IS NOT NULL
  AND top.distance <= :tolerance
  AND (old.face_id IS NULL
       OR old.attendee_id <> top.attendee_id
       OR old.distance <> top.distance
       OR (coalesce(old.runner_up, 'Infinity') - old.distance >= :margin)
          <> (coalesce(top.runner_up, 'Infinity') - top.distance >= :margin))"""
)
# Faces that name the attendee at a distance nearer than any selfie it has now: left by
# selfies deleted since (face data deleted, then a new selfie before the event's rematch
# repaired them). Their top two is computed again from all the selfies.
_NAMING_GONE_SELFIES = """
SELECT n.face_id, n.photo_id
FROM (
  SELECT * FROM face_nearest WHERE attendee_id = :attendee_id
  UNION ALL
  SELECT * FROM face_nearest
  WHERE runner_up_attendee_id = :attendee_id AND attendee_id <> :attendee_id
) n JOIN faces f ON f.id = n.face_id
WHERE CASE WHEN n.attendee_id = :attendee_id THEN n.distance ELSE n.runner_up END
      < coalesce((SELECT min(f.encoding <-> s.encoding) FROM selfies s
                  WHERE s.attendee_id = :attendee_id AND s.status = 'valid'), 'Infinity')
"""
_PHOTOS_NAMING_GONE_SELFIES = text(f"SELECT DISTINCT photo_id FROM ({_NAMING_GONE_SELFIES}) gone")
_NEAREST_NAMING_GONE_SELFIES = _recompute_nearest(
    f"SELECT face_id FROM ({_NAMING_GONE_SELFIES}) gone"
)
# Every face that names the attendee: after their face data is deleted, all are stale.
_NAMING = """
SELECT face_id, photo_id FROM face_nearest WHERE attendee_id = :attendee_id
UNION
SELECT face_id, photo_id FROM face_nearest WHERE runner_up_attendee_id = :attendee_id
"""
_PHOTOS_NAMING = text(f"SELECT DISTINCT photo_id FROM ({_NAMING}) naming")
_NEAREST_NAMING = _recompute_nearest(f"SELECT face_id FROM ({_NAMING}) naming")
_HAS_VALID_SELFIE = text(
    "SELECT EXISTS (SELECT 1 FROM selfies WHERE attendee_id = :attendee_id AND status = 'valid')"
)
# Photos whose faces got their nearest attendees, or had them recomputed (which may move
# them further away: a worker's in-memory matrix then scans the photo in SQL again, see
# workers/face_cache.py): their number in the event's epoch.
_NUMBER_PHOTOS = text(
    """
WITH bumped AS (
  UPDATE events SET match_epoch = match_epoch + 1 WHERE id = :event_id RETURNING match_epoch
)
UPDATE photos SET match_epoch = (SELECT match_epoch FROM bumped)
WHERE id = ANY(CAST(:photo_ids AS uuid[]))
"""
)

# -- matches: a filter over face_nearest ---------------------------------------------------

_MATCH = """
WITH scope AS ({scope}),
best AS (
  SELECT DISTINCT ON (n.attendee_id, n.photo_id) n.attendee_id, n.photo_id, n.face_id, n.distance
  FROM face_nearest n
  JOIN scope ON {on}
  WHERE n.event_id = :event_id
    AND n.distance <= :tolerance - CASE WHEN n.quality < :weak_quality THEN :weak_penalty ELSE 0 END
    AND (n.runner_up IS NULL OR n.runner_up - n.distance >= :margin)
    AND NOT n.lookalike
    AND {valid}
  ORDER BY n.attendee_id, n.photo_id, n.distance, n.face_id
),""".replace("{valid}", f"{_VALID} AND {_CONSENTED}".format("n.attendee_id"))
# The matches to delete are found by `{photos}`, a condition on m.photo_id, not by a join
# with the scope: joined with a CTE, whose rows have no statistics, the planner expected a
# tenth of the table and read all of it (65 ms per selfie at a million faces).
_WRITE = """
gone AS (
  DELETE FROM matches m
  WHERE {photos}
    AND NOT EXISTS (
      SELECT 1 FROM best b WHERE b.attendee_id = m.attendee_id AND b.photo_id = m.photo_id
    )
  RETURNING m.id
)
INSERT INTO matches (id, attendee_id, photo_id, face_id, event_id, distance, created_at)
SELECT gen_random_uuid(), attendee_id, photo_id, face_id, :event_id, distance, now()
FROM best
ON CONFLICT (attendee_id, photo_id) DO UPDATE
  SET face_id = EXCLUDED.face_id, distance = EXCLUDED.distance
  WHERE matches.face_id IS DISTINCT FROM EXCLUDED.face_id
     OR matches.distance IS DISTINCT FROM EXCLUDED.distance
"""
_ON_PHOTO = "scope.photo_id = n.photo_id"
_MATCH_PHOTO = text(
    _MATCH.format(scope="SELECT CAST(:photo_id AS uuid) AS photo_id", on=_ON_PHOTO)
    + _WRITE.format(photos="m.photo_id = :photo_id")
)
_MATCH_PHOTOS = text(
    _MATCH.format(
        scope="SELECT DISTINCT unnest(CAST(:photo_ids AS uuid[])) AS photo_id", on=_ON_PHOTO
    )
    + _WRITE.format(photos="m.photo_id = ANY(CAST(:photo_ids AS uuid[]))")
)
# One attendee's match in one photo, for each (photo, attendee) pair given: a new selfie
# moves a few attendees' matches in a photo, not the photo's every match.
_MATCH_PAIRS = text(
    _MATCH.format(
        scope="SELECT DISTINCT * FROM unnest(CAST(:photo_ids AS uuid[]),"
        " CAST(:attendee_ids AS uuid[])) AS pair(photo_id, attendee_id)",
        on="scope.photo_id = n.photo_id AND scope.attendee_id = n.attendee_id",
    )
    + _WRITE.format(
        photos="m.photo_id = ANY(CAST(:photo_ids AS uuid[]))"
        " AND (m.photo_id, m.attendee_id) IN (SELECT photo_id, attendee_id FROM scope)"
    )
)
_MATCH_EVENT = text(
    _MATCH.format(
        scope="SELECT id AS photo_id FROM photos WHERE event_id = :event_id", on=_ON_PHOTO
    )
    + _WRITE.format(photos="m.event_id = :event_id")
)

# -- look-alike groups: each attendee's faces grouped into people (workers/lookalikes.py) ---

# The attendees named by some faces, within the grouping scope: theirs are the groups a
# change of those faces' nearest attendees can change.
# (event_id first: the index is on (event_id, photo_id); without it, a scan of the table,
# 40 ms a photo at a million faces.)
_NAMED_BY_PHOTOS = text(
    "SELECT DISTINCT attendee_id FROM face_nearest WHERE event_id = :event_id"
    " AND photo_id = ANY(CAST(:photo_ids AS uuid[])) AND distance <= :scope"
)
# The attendees a new selfie takes faces from: those faces leave their groups. (A face
# where the newcomer only becomes the runner-up stays where it was.)
_TAKEN_FROM = text(
    """
SELECT DISTINCT n.attendee_id
FROM unnest(CAST(:face_ids AS uuid[]), CAST(:distances AS float8[])) AS g(face_id, distance)
JOIN face_nearest n USING (face_id)
WHERE n.distance <= :scope AND n.attendee_id <> :attendee_id
  AND (g.distance, CAST(:attendee_id AS uuid)) < (n.distance, n.attendee_id)
"""
)
_NAMED_IN_EVENT = text(
    "SELECT DISTINCT attendee_id FROM face_nearest WHERE event_id = :event_id"
    " AND distance <= :scope"
)
# Read in binary, each encoding as pgvector's own binary form (vector_send), turned into
# one matrix at once (as text, real[] cost 6 ms per 100 faces to parse; a rematch reads
# every face of the event).
_GROUPED = """
SELECT n.attendee_id, n.face_id, n.photo_id, n.distance, n.lookalike, vector_send(f.encoding)
FROM face_nearest n JOIN faces f ON f.id = n.face_id
WHERE n.attendee_id = ANY(%(attendee_ids)s) AND n.distance <= %(scope)s
ORDER BY n.attendee_id, n.face_id
"""
_SET_LOOKALIKE = text(
    """
UPDATE face_nearest n SET lookalike = v.lookalike
FROM unnest(CAST(:face_ids AS uuid[]), CAST(:flags AS boolean[])) AS v(face_id, lookalike)
WHERE n.face_id = v.face_id
"""
)
# Which of some attendees have a face a group could be held back for: one further than
# the group threshold (a group's mean can pass it only if one of its faces does), or one
# held back now. The others' groups are all theirs, before and after: their encodings
# need not be read.
_MAY_HOLD = text(
    """
SELECT attendee_id FROM face_nearest
WHERE attendee_id = ANY(CAST(:attendee_ids AS uuid[])) AND distance <= :scope
GROUP BY attendee_id
HAVING max(distance) > :threshold OR bool_or(lookalike)
"""
)
REGROUP_BATCH = 500
"""Attendees whose faces are read in one statement when a whole event is grouped again."""


def _fetch_binary(session: Session, statement: str, params: dict[str, Any]) -> list[Any]:
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


def _lookalike_flags(rows: Sequence[Any], tolerance: float) -> list[tuple[object, bool]]:
    """(face id, flag) for rows (attendee, face, photo, distance, ..., encoding) sorted by
    attendee: the rule of workers/lookalikes.py, one attendee at a time."""
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
        may_hold = connection.execute(_MAY_HOLD, batch).scalars().all()
        if not may_hold:
            continue
        params = {"attendee_ids": list(may_hold), "scope": scope}
        rows = _fetch_binary(session, _GROUPED, params)
        was = {r[1]: (r[4], r[2], r[0]) for r in rows}
        changed = [(f, flag) for f, flag in _lookalike_flags(rows, tolerance) if was[f][0] != flag]
        if changed:
            flags = {"face_ids": [f for f, _ in changed], "flags": [flag for _, flag in changed]}
            connection.execute(_SET_LOOKALIKE, flags)
            moved.update((was[f][1], was[f][2]) for f, _ in changed)
    return moved


def _named(session: Session, statement: TextClause, tolerance: float, **params: object) -> set[Any]:
    scoped = {**params, "scope": lookalikes.scope(tolerance)}
    return set(session.connection().execute(statement, scoped).scalars().all())


def _match_moved(
    session: Session,
    event_id: uuid.UUID,
    tolerance: float,
    margin: float,
    moved: set[tuple[uuid.UUID, uuid.UUID]],
    done: Collection[uuid.UUID] = (),
) -> int:
    """The matches of the (photo, attendee) pairs a regrouping moved, but for the photos
    whose every match is derived again anyway."""
    pairs = [(photo, attendee) for photo, attendee in moved if photo not in done]
    if not pairs:
        return 0
    photo_ids, attendee_ids = (list(column) for column in zip(*pairs, strict=True))
    return _run(session, _MATCH_PAIRS, event_id, tolerance, margin,
                photo_ids=photo_ids, attendee_ids=attendee_ids)  # fmt: skip


# -- the rule as one brute-force statement: the reference the above is checked against ------

_REFERENCE = text(
    """
WITH pair AS (
  SELECT f.id AS face_id, f.photo_id, s.attendee_id, min(f.encoding <-> s.encoding) AS distance,
         CASE WHEN f.quality < :weak_quality THEN :weak_penalty ELSE 0 END AS penalty
  FROM faces f
  JOIN selfies s ON s.event_id = f.event_id AND s.status = 'valid'
  WHERE f.event_id = :event_id
    AND f.encoding <-> s.encoding <= :reach
    AND NOT EXISTS (
      SELECT 1 FROM match_rejections r
      WHERE r.attendee_id = s.attendee_id AND r.photo_id = f.photo_id
    )
  GROUP BY f.id, f.photo_id, s.attendee_id
),
ranked AS (
  SELECT pair.*,
         row_number() OVER (PARTITION BY face_id ORDER BY distance, attendee_id) AS rank,
         lead(distance) OVER (PARTITION BY face_id ORDER BY distance, attendee_id) AS runner_up
  FROM pair
)
SELECT ranked.attendee_id, ranked.face_id, ranked.photo_id, ranked.distance, ranked.runner_up,
       CAST(f.encoding AS real[]), ranked.penalty,
       EXISTS (SELECT 1 FROM attendees c WHERE c.id = ranked.attendee_id
               AND c.consent_policy_version = :consent_version)
FROM ranked JOIN faces f ON f.id = ranked.face_id
WHERE rank = 1
ORDER BY ranked.attendee_id, ranked.face_id
"""
)


def _params(
    event_id: uuid.UUID, tolerance: float, margin: float, **extra: object
) -> dict[str, object]:
    return {
        "event_id": event_id,
        "tolerance": tolerance,
        "margin": margin,
        "weak_quality": settings.MATCH_WEAK_QUALITY,
        "weak_penalty": settings.MATCH_WEAK_PENALTY,
        "radius": NEAREST_RADIUS,
        # A runner-up further than this from the nearest decides nothing; the float8
        # sums on either side of the comparison may round apart by an ulp, hence the 1e-9.
        "max_margin": MAX_MATCH_MARGIN + 1e-9,
        "consent_version": settings.CONSENT_POLICY_VERSION,
        **extra,
    }


def _run(
    session: Session,
    statement: TextClause,
    event_id: uuid.UUID,
    tolerance: float,
    margin: float,
    **scope: object,
) -> int:
    """Run the statement (the caller holds the event's matching lock); rows changed."""
    params = _params(event_id, tolerance, margin, **scope)
    return session.connection().execute(statement, params).rowcount


def match_photo(
    session: Session, event_id: uuid.UUID, photo_id: uuid.UUID, tolerance: float, margin: float
) -> int:
    """Match a newly indexed photo's faces (or those of a photo someone said "not me" to)
    against the event's attendees: their nearest attendees first, then the matches."""
    lock_matching(session, event_id)
    _run(session, _NUMBER_PHOTOS, event_id, tolerance, margin, photo_ids=[photo_id])
    named = _named(session, _NAMED_BY_PHOTOS, tolerance, event_id=event_id, photo_ids=[photo_id])
    cached = selfie_cache.get(event_id)
    near = _selfies_near_photo(session, cached, event_id, photo_id) if cached else None
    if near is None:
        _run(session, _NEAREST_OF_PHOTO, event_id, tolerance, margin, photo_id=photo_id)
    else:
        _run(session, _NEAREST_OF_PHOTO_SELFIES, event_id, tolerance, margin, photo_id=photo_id,
             selfie_ids=near)  # fmt: skip
    named |= _named(session, _NAMED_BY_PHOTOS, tolerance, event_id=event_id, photo_ids=[photo_id])
    moved = regroup(session, named, tolerance) if named else set()
    written = _run(session, _MATCH_PHOTO, event_id, tolerance, margin, photo_id=photo_id)
    return written + _match_moved(session, event_id, tolerance, margin, moved, {photo_id})


def _selfies_near_photo(
    session: Session, cached: selfie_cache.EventSelfies, event_id: uuid.UUID, photo_id: uuid.UUID
) -> list[uuid.UUID] | None:
    """The selfies that can be of the photo's faces' top two: those the worker's matrix of
    the event's selfies finds near a face, and every one the matrix has not seen. None if
    a selfie a bound rests on is gone."""
    connection = session.connection()
    rows = connection.execute(_FACES_OF_PHOTO, {"photo_id": photo_id}).all()
    if not rows:
        return []
    faces = np.array([row[1] for row in rows], dtype=np.float32)
    _, selfie_ids, witnesses = cached.pairs(faces, keep_all=rows[0][2])
    params = {"witnesses": witnesses, "event_id": event_id, "selfie_epoch": cached.epoch}
    valid, unseen = connection.execute(_WITNESSES_AND_UNSEEN, params).one()
    if valid < len(witnesses):
        return None  # face data deleted since the matrix was read: SQL compares them all
    return list(set(selfie_ids) | set(unseen))


def match_attendee(
    session: Session, event_id: uuid.UUID, attendee_id: uuid.UUID, tolerance: float, margin: float
) -> int:
    """After a new valid selfie: the faces near it, then the photos they are in.

    The faces are found before the event's matching lock is taken, so that selfies of one
    event are not queued behind each other's scans; under the lock, the photos matched
    since then are scanned too, which is exact: a photo committed after the scan's
    snapshot was numbered after the epoch that snapshot read."""
    connection = session.connection()
    params = _params(event_id, tolerance, margin, attendee_id=attendee_id)
    cached = face_cache.get(event_id)
    if cached is None:
        epoch, face_ids, distances = connection.execute(_NEAR_ATTENDEE, params).one()
    else:
        selfies = np.array(connection.execute(_SELFIES_OF, params).scalars().all())
        candidates = cached.candidates(selfies) if len(selfies) else []
        scope = {**params, "candidates": candidates, "cached_epoch": cached.epoch}
        epoch, face_ids, distances = connection.execute(_NEAR_CANDIDATES, scope).one()
    lock_matching(session, event_id)
    if not connection.execute(_HAS_VALID_SELFIE, params).scalar_one():
        return 0  # face data deleted meanwhile
    connection.execute(_NUMBER_SELFIES, params)
    named = {attendee_id}  # and every attendee who may lose faces to them
    repaired = set(connection.execute(_PHOTOS_NAMING_GONE_SELFIES, params).scalars().all())
    if repaired:
        named |= _named(session, _NAMED_BY_PHOTOS, tolerance, event_id=event_id,
                        photo_ids=list(repaired))  # fmt: skip
        connection.execute(_NEAREST_NAMING_GONE_SELFIES, params)
        connection.execute(_NUMBER_PHOTOS, {**params, "photo_ids": list(repaired)})
        named |= _named(session, _NAMED_BY_PHOTOS, tolerance, event_id=event_id,
                        photo_ids=list(repaired))  # fmt: skip
    near = dict(zip(face_ids, distances, strict=True))
    # A photo numbered again since ("not me") was seen by the scan already: same distances.
    near.update(
        (f, d) for f, d in connection.execute(_NEAR_ATTENDEE_SINCE, {**params, "epoch": epoch})
    )
    merge = {**params, "face_ids": list(near), "distances": list(near.values())}
    if near:
        named |= _named(session, _TAKEN_FROM, tolerance, attendee_id=attendee_id,
                        face_ids=merge["face_ids"], distances=merge["distances"])  # fmt: skip
    changed = connection.execute(_MERGE_ATTENDEE, merge).all() if near else []
    moved = {(photo, attendee) for photo, attendee in changed} | regroup(session, named, tolerance)
    written = 0
    if repaired:
        written += _run(session, _MATCH_PHOTOS, event_id, tolerance, margin,
                        photo_ids=list(repaired))  # fmt: skip
    return written + _match_moved(session, event_id, tolerance, margin, moved, repaired)


_EVENT_OF_ATTENDEE = text(
    "SELECT coalesce((SELECT event_id FROM attendees WHERE id = :attendee_id),"
    f" (SELECT event_id FROM ({_NAMING.replace('face_id, photo_id', 'event_id')}) naming LIMIT 1))"
)


def event_of_attendee(session: Session, attendee_id: uuid.UUID) -> uuid.UUID | None:
    """The attendee's event, from their row or, once it is gone, from the faces naming them."""
    params = {"attendee_id": attendee_id}
    return session.connection().execute(_EVENT_OF_ATTENDEE, params).scalar_one()


def forget_attendee(
    session: Session, event_id: uuid.UUID, attendee_id: uuid.UUID, tolerance: float, margin: float
) -> int:
    """After the attendee's selfies are deleted: the faces that named them get their
    nearest attendees from the selfies left (the attendee's new ones too, if any), and
    their photos' matches are derived again. Only those faces can change; a whole
    event's rematch would hold the event's lock for seconds at a million faces."""
    lock_matching(session, event_id)
    params = _params(event_id, tolerance, margin, attendee_id=attendee_id)
    connection = session.connection()
    photos = connection.execute(_PHOTOS_NAMING, params).scalars().all()
    if not photos:
        return 0
    connection.execute(_NEAREST_NAMING, params)
    connection.execute(_NUMBER_PHOTOS, {**params, "photo_ids": list(photos)})
    named = _named(session, _NAMED_BY_PHOTOS, tolerance, event_id=event_id,
                   photo_ids=list(photos))  # fmt: skip
    moved = regroup(session, named, tolerance) if named else set()
    written = _run(session, _MATCH_PHOTOS, event_id, tolerance, margin, photo_ids=list(photos))
    return written + _match_moved(session, event_id, tolerance, margin, moved, set(photos))


_PHOTOS_NAMING = text(
    "SELECT DISTINCT photo_id FROM face_nearest WHERE event_id = :event_id"
    " AND (attendee_id = :attendee_id OR runner_up_attendee_id = :attendee_id)"
)


def rematch_attendee(
    session: Session, event_id: uuid.UUID, attendee_id: uuid.UUID, tolerance: float, margin: float
) -> int:
    """After an attendee consents again (a new policy): the photos whose faces name them,
    matched again. Their nearest attendees were kept meanwhile; only matching paused."""
    lock_matching(session, event_id)
    params = {"event_id": event_id, "attendee_id": attendee_id}
    photo_ids = session.connection().execute(_PHOTOS_NAMING, params).scalars().all()
    if not photo_ids:
        return 0
    return _run(session, _MATCH_PHOTOS, event_id, tolerance, margin, photo_ids=list(photo_ids))


def rematch_event(session: Session, event_id: uuid.UUID, tolerance: float, margin: float) -> int:
    """Every match of the event from `face_nearest` (a tolerance change costs no distance),
    after recomputing the faces that named an attendee whose selfies are gone."""
    lock_matching(session, event_id)
    stale = session.connection().execute(_PHOTOS_STALE, {"event_id": event_id}).scalars().all()
    if stale:
        _run(session, _NEAREST_STALE, event_id, tolerance, margin)
        _run(session, _NUMBER_PHOTOS, event_id, tolerance, margin, photo_ids=list(stale))
    regroup(session, _named(session, _NAMED_IN_EVENT, tolerance, event_id=event_id), tolerance)
    return _run(session, _MATCH_EVENT, event_id, tolerance, margin)


def regroup_attendees(
    session: Session,
    event_id: uuid.UUID,
    attendee_ids: list[uuid.UUID],
    tolerance: float,
    margin: float,
) -> int:
    """After faces went (a photo deleted): the groups of the attendees they were nearest to,
    and the matches those groups move. A look-alike's group that lost a photo may be too
    small to speak now, and the rule must say so, not a stale flag."""
    lock_matching(session, event_id)
    moved = regroup(session, set(attendee_ids), tolerance)
    return _match_moved(session, event_id, tolerance, margin, moved)


def reference_matches(
    session: Session, event_id: uuid.UUID, tolerance: float, margin: float
) -> set[tuple[uuid.UUID, uuid.UUID, uuid.UUID, float]]:
    """(attendee, photo, face, distance) of every match the rules give, by brute force."""
    reach = tolerance + max(margin, lookalikes.GROUP_SLACK)
    params = _params(event_id, tolerance, margin, reach=reach)
    return _decide(session.connection().execute(_REFERENCE, params).all(), tolerance, margin)


def _decide(
    rows: Sequence[Any], tolerance: float, margin: float
) -> set[tuple[uuid.UUID, uuid.UUID, uuid.UUID, float]]:
    """The rules over each face's nearest attendee, as rows (attendee, face, photo,
    distance, runner-up distance, encoding, weak-face penalty, may be matched) sorted by
    attendee: (attendee, photo, face, distance) of every match."""
    grouped = [r for r in rows if r[3] <= lookalikes.scope(tolerance)]
    lookalike = {face for face, flag in _lookalike_flags(grouped, tolerance) if flag}
    best: dict[tuple[uuid.UUID, uuid.UUID], tuple[float, uuid.UUID]] = {}
    for attendee, face, photo, distance, runner_up, _, penalty, allowed in rows:
        if (
            allowed
            and face not in lookalike
            and distance <= tolerance - penalty
            and (runner_up is None or runner_up - distance >= margin)
        ):
            best[(attendee, photo)] = min(best.get((attendee, photo), (distance, face)),
                                          (distance, face))  # fmt: skip
    return {(a, p, f, d) for (a, p), (d, f) in best.items()}


# The event's kept nearest attendees within a tolerance's grouping scope, in _decide's shape
# (read in binary: see _GROUPED).
_KEPT = """
SELECT n.attendee_id, n.face_id, n.photo_id, n.distance, n.runner_up, vector_send(f.encoding),
       CASE WHEN n.quality < %(weak_quality)s THEN %(weak_penalty)s ELSE 0 END,
       EXISTS (SELECT 1 FROM selfies v WHERE v.attendee_id = n.attendee_id AND v.status = 'valid')
       AND EXISTS (SELECT 1 FROM attendees c WHERE c.id = n.attendee_id
                   AND c.consent_policy_version = %(consent_version)s)
FROM face_nearest n JOIN faces f ON f.id = n.face_id
WHERE n.event_id = %(event_id)s AND n.distance <= %(scope)s
ORDER BY n.attendee_id, n.face_id
"""
_MATCHED_PAIRS = text("SELECT attendee_id, photo_id FROM matches WHERE event_id = :event_id")


def preview_tolerance(
    session: Session, event_id: uuid.UUID, tolerance: float, margin: float
) -> dict[str, object]:
    """What the event's matches would be at `tolerance`, from the kept nearest attendees
    (no face is compared with a selfie), against the matches it has now: counts, and each
    attendee's photos now and then. Nothing is written."""
    params = _params(event_id, tolerance, margin, scope=lookalikes.scope(tolerance))
    connection = session.connection()
    then = {(a, p) for a, p, _, _ in _decide(_fetch_binary(session, _KEPT, params),
                                             tolerance, margin)}  # fmt: skip
    now = {(a, p) for a, p in connection.execute(_MATCHED_PAIRS, params)}
    counts: dict[str, list[int]] = {}
    for pairs, column in ((now, 0), (then, 1)):
        for attendee, _ in pairs:
            counts.setdefault(str(attendee), [0, 0])[column] += 1
    gained, lost = then - now, now - then
    return {
        "matches_now": len(now),
        "matches_then": len(then),
        "gained": len(gained),
        "lost": len(lost),
        "attendees_affected": len({a for a, _ in gained | lost}),
        "attendees": counts,
    }
