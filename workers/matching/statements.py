"""Every SQL statement of matching, each written out whole: no statement is built from
pieces of another, so what runs is what is read here (and what EXPLAIN is given).

Named parameters (`:name`) are bound by SQLAlchemy; the few statements run on a raw
psycopg cursor, in binary, take `%(name)s` or `%s`. `params` gives the values every
matching statement shares.
"""

from __future__ import annotations

import uuid

from sqlalchemy import text

from core.config import MAX_MATCH_MARGIN, NEAREST_RADIUS, settings


def params(
    event_id: uuid.UUID, tolerance: float, margin: float, **extra: object
) -> dict[str, object]:
    """The parameters of a matching statement at an event's tolerance and margin."""
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


# -- face_nearest: each face's two nearest attendees -----------------------------------
#
# A face's top two are written in one shape wherever they are computed: `cand` holds each
# (face, attendee) pair within the radius, at the attendee's nearest selfie, but for a
# "not me" on the face's photo; `ranked` and `top` keep each face's nearest two; the
# upsert writes only a row that changed, and `gone` deletes a face's row when no attendee
# is left within the radius.

# The faces of one photo against every valid selfie of its event.
NEAREST_OF_PHOTO = text(
    """
WITH scope AS (SELECT id AS face_id FROM faces WHERE photo_id = :photo_id),
cand AS (
  SELECT f.id AS face_id, s.attendee_id, min(f.encoding <-> s.encoding) AS distance
  FROM faces f
  JOIN scope ON scope.face_id = f.id
  JOIN selfies s ON s.event_id = f.event_id AND s.status = 'valid'
  WHERE f.encoding <-> s.encoding <= :radius
    AND NOT EXISTS (
      SELECT 1 FROM match_rejections r
      WHERE r.attendee_id = s.attendee_id AND r.photo_id = f.photo_id
    )
  GROUP BY f.id, s.attendee_id
),
ranked AS (
  SELECT face_id, attendee_id, distance,
         row_number() OVER w AS rank,
         lead(attendee_id) OVER w AS runner_up_attendee_id,
         lead(distance) OVER w AS runner_up
  FROM cand
  WINDOW w AS (PARTITION BY face_id ORDER BY distance, attendee_id)
),
top AS (SELECT * FROM ranked WHERE rank = 1)
,
gone AS (
  DELETE FROM face_nearest n USING scope
  WHERE n.face_id = scope.face_id AND NOT EXISTS (SELECT 1 FROM top WHERE top.face_id = n.face_id)
)
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
)

# The same from a worker's in-memory matrix of the event's selfies (selfie_cache.py):
# the photo's faces against the selfies it found near one of them, and against every
# selfie it has not seen, given as one array. (A union with a scan of the unseen selfies,
# whose estimate the planner took from stale statistics, once made it hash all the event's
# faces: 250 ms a photo; and (face, selfie) pairs made it hash all the event's selfies.)
NEAREST_OF_PHOTO_SELFIES = text(
    """
WITH scope AS (SELECT id AS face_id FROM faces WHERE photo_id = :photo_id),
cand AS (
  SELECT f.id AS face_id, s.attendee_id, min(f.encoding <-> s.encoding) AS distance
  FROM faces f
  JOIN scope ON scope.face_id = f.id
  JOIN selfies s ON s.id = ANY(CAST(:selfie_ids AS uuid[])) AND s.status = 'valid'
  WHERE f.encoding <-> s.encoding <= :radius
    AND NOT EXISTS (
      SELECT 1 FROM match_rejections r
      WHERE r.attendee_id = s.attendee_id AND r.photo_id = f.photo_id
    )
  GROUP BY f.id, s.attendee_id
),
ranked AS (
  SELECT face_id, attendee_id, distance,
         row_number() OVER w AS rank,
         lead(attendee_id) OVER w AS runner_up_attendee_id,
         lead(distance) OVER w AS runner_up
  FROM cand
  WINDOW w AS (PARTITION BY face_id ORDER BY distance, attendee_id)
),
top AS (SELECT * FROM ranked WHERE rank = 1)
,
gone AS (
  DELETE FROM face_nearest n USING scope
  WHERE n.face_id = scope.face_id AND NOT EXISTS (SELECT 1 FROM top WHERE top.face_id = n.face_id)
)
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
)


FACES_OF_PHOTO = text(
    """
SELECT id, CAST(encoding AS real[]), EXISTS (SELECT 1 FROM match_rejections
  WHERE photo_id = :photo_id) FROM faces WHERE photo_id = :photo_id ORDER BY id
"""
)

# How many of the witnesses are valid still, and the valid selfies the matrix has not seen:
# numbered after it was read, or not yet (their selfie job has not matched them).
WITNESSES_AND_UNSEEN = text(
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
# numbers follow the commits (selfie_cache.py).
NUMBER_SELFIES = text(
    """
UPDATE selfies SET match_epoch = nextval('selfies_match_epoch_seq')
  WHERE attendee_id = :attendee_id AND status = 'valid' AND match_epoch IS NULL
"""
)

# Faces whose top two names an attendee with no valid selfie left (face data deleted):
# their photos, and their top two again.
PHOTOS_STALE = text(
    """
SELECT DISTINCT photo_id FROM (
SELECT n.face_id, n.photo_id FROM face_nearest n
WHERE n.event_id = :event_id
  AND (NOT EXISTS (SELECT 1 FROM selfies v WHERE v.attendee_id = n.attendee_id
    AND v.status = 'valid')
       OR (n.runner_up_attendee_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM selfies v
         WHERE v.attendee_id = n.runner_up_attendee_id AND v.status = 'valid')))
) stale
"""
)

NEAREST_STALE = text(
    """
WITH scope AS (SELECT face_id FROM (
SELECT n.face_id, n.photo_id FROM face_nearest n
WHERE n.event_id = :event_id
  AND (NOT EXISTS (SELECT 1 FROM selfies v WHERE v.attendee_id = n.attendee_id
    AND v.status = 'valid')
       OR (n.runner_up_attendee_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM selfies v
         WHERE v.attendee_id = n.runner_up_attendee_id AND v.status = 'valid')))
) stale),
cand AS (
  SELECT f.id AS face_id, s.attendee_id, min(f.encoding <-> s.encoding) AS distance
  FROM faces f
  JOIN scope ON scope.face_id = f.id
  JOIN selfies s ON s.event_id = f.event_id AND s.status = 'valid'
  WHERE f.encoding <-> s.encoding <= :radius
    AND NOT EXISTS (
      SELECT 1 FROM match_rejections r
      WHERE r.attendee_id = s.attendee_id AND r.photo_id = f.photo_id
    )
  GROUP BY f.id, s.attendee_id
),
ranked AS (
  SELECT face_id, attendee_id, distance,
         row_number() OVER w AS rank,
         lead(attendee_id) OVER w AS runner_up_attendee_id,
         lead(distance) OVER w AS runner_up
  FROM cand
  WINDOW w AS (PARTITION BY face_id ORDER BY distance, attendee_id)
),
top AS (SELECT * FROM ranked WHERE rank = 1)
,
gone AS (
  DELETE FROM face_nearest n USING scope
  WHERE n.face_id = scope.face_id AND NOT EXISTS (SELECT 1 FROM top WHERE top.face_id = n.face_id)
)
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
)

# A new valid selfie: the faces within the radius of one of the attendee's selfies, with
# the attendee's distance to each. The scan over every face of the event runs before the
# matching lock (it is the costly part: the lock must not queue the event's selfies); the
# event's epoch in the same snapshot says which photos it saw.
NEAR_ATTENDEE = text(
    """
SELECT (SELECT match_epoch FROM events WHERE id = :event_id), coalesce(array_agg(face_id), '{}'),
  coalesce(array_agg(distance), '{}') FROM (
SELECT f.id AS face_id, min(f.encoding <-> s.encoding) AS distance
FROM faces f
CROSS JOIN (SELECT encoding FROM selfies WHERE attendee_id = :attendee_id AND status = 'valid') s
WHERE f.event_id = :event_id AND f.encoding <-> s.encoding <= :radius
  AND NOT EXISTS (
    SELECT 1 FROM match_rejections r WHERE r.attendee_id = :attendee_id AND r.photo_id = f.photo_id
  )
GROUP BY f.id
) near
"""
)

# The same from a worker's in-memory matrix of the event's faces (face_cache.py):
# its candidates, and the faces of the photos numbered since the matrix was read.
NEAR_CANDIDATES = text(
    """
SELECT (SELECT match_epoch FROM events WHERE id = :event_id), coalesce(array_agg(face_id), '{}'),
  coalesce(array_agg(distance), '{}') FROM (
SELECT f.id AS face_id, min(f.encoding <-> s.encoding) AS distance
FROM (
          SELECT f.id, f.photo_id, f.encoding
          FROM unnest(CAST(:candidates AS uuid[])) AS c(id) JOIN faces f ON f.id = c.id
          UNION ALL
          SELECT f.id, f.photo_id, f.encoding FROM photos p JOIN faces f ON f.photo_id = p.id
          WHERE p.event_id = :event_id AND p.match_epoch > :cached_epoch
        ) f
CROSS JOIN (SELECT encoding FROM selfies WHERE attendee_id = :attendee_id AND status = 'valid') s
WHERE true AND f.encoding <-> s.encoding <= :radius
  AND NOT EXISTS (
    SELECT 1 FROM match_rejections r WHERE r.attendee_id = :attendee_id AND r.photo_id = f.photo_id
  )
GROUP BY f.id
) near
"""
)


SELFIES_OF = text(
    """
SELECT CAST(encoding AS real[]) FROM selfies WHERE attendee_id = :attendee_id AND status = 'valid'
"""
)

# Under the lock: the photos whose nearest attendees were computed after that snapshot.
NEAR_ATTENDEE_SINCE = text(
    """
SELECT f.id AS face_id, min(f.encoding <-> s.encoding) AS distance
FROM photos p JOIN faces f ON f.photo_id = p.id
CROSS JOIN (SELECT encoding FROM selfies WHERE attendee_id = :attendee_id AND status = 'valid') s
WHERE p.event_id = :event_id AND p.match_epoch > :epoch AND f.encoding <-> s.encoding <= :radius
  AND NOT EXISTS (
    SELECT 1 FROM match_rejections r WHERE r.attendee_id = :attendee_id AND r.photo_id = f.photo_id
  )
GROUP BY f.id
"""
)

# For those faces the new top two is among the stored two and this attendee: the
# attendee's distances only got smaller. The photos whose matches can change are
# returned (a change of tolerance or settings is the event's rematch).
MERGE_ATTENDEE = text(
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
              OR (g.distance, CAST(:attendee_id AS uuid)) < (n.runner_up,
                n.runner_up_attendee_id)))
),
old AS (SELECT n.* FROM face_nearest n JOIN near USING (face_id)),
cand AS (
  SELECT face_id, attendee_id, distance FROM old WHERE attendee_id <> :attendee_id
  UNION ALL
  SELECT face_id, runner_up_attendee_id, runner_up FROM old
  WHERE runner_up_attendee_id IS NOT NULL AND runner_up_attendee_id <> :attendee_id
  UNION ALL
  SELECT face_id, CAST(:attendee_id AS uuid), distance FROM near
),
ranked AS (
  SELECT face_id, attendee_id, distance,
         row_number() OVER w AS rank,
         lead(attendee_id) OVER w AS runner_up_attendee_id,
         lead(distance) OVER w AS runner_up
  FROM cand
  WINDOW w AS (PARTITION BY face_id ORDER BY distance, attendee_id)
),
top AS (SELECT * FROM ranked WHERE rank = 1)
, kept AS (
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
 RETURNING 1)
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
          <> (coalesce(top.runner_up, 'Infinity') - top.distance >= :margin))
"""
)

# Faces that name the attendee at a distance nearer than any selfie it has now: left by
# selfies deleted since (face data deleted, then a new selfie before the event's rematch
# repaired them): their photos, and their top two again from all the selfies.
PHOTOS_NAMING_GONE_SELFIES = text(
    """
SELECT DISTINCT photo_id FROM (
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
) gone
"""
)

NEAREST_NAMING_GONE_SELFIES = text(
    """
WITH scope AS (SELECT face_id FROM (
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
) gone),
cand AS (
  SELECT f.id AS face_id, s.attendee_id, min(f.encoding <-> s.encoding) AS distance
  FROM faces f
  JOIN scope ON scope.face_id = f.id
  JOIN selfies s ON s.event_id = f.event_id AND s.status = 'valid'
  WHERE f.encoding <-> s.encoding <= :radius
    AND NOT EXISTS (
      SELECT 1 FROM match_rejections r
      WHERE r.attendee_id = s.attendee_id AND r.photo_id = f.photo_id
    )
  GROUP BY f.id, s.attendee_id
),
ranked AS (
  SELECT face_id, attendee_id, distance,
         row_number() OVER w AS rank,
         lead(attendee_id) OVER w AS runner_up_attendee_id,
         lead(distance) OVER w AS runner_up
  FROM cand
  WINDOW w AS (PARTITION BY face_id ORDER BY distance, attendee_id)
),
top AS (SELECT * FROM ranked WHERE rank = 1)
,
gone AS (
  DELETE FROM face_nearest n USING scope
  WHERE n.face_id = scope.face_id AND NOT EXISTS (SELECT 1 FROM top WHERE top.face_id = n.face_id)
)
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
)

# Every face that names the attendee: after their face data is deleted, all are stale.
NEAREST_NAMING = text(
    """
WITH scope AS (SELECT face_id FROM (
SELECT face_id, photo_id FROM face_nearest WHERE attendee_id = :attendee_id
UNION
SELECT face_id, photo_id FROM face_nearest WHERE runner_up_attendee_id = :attendee_id
) naming),
cand AS (
  SELECT f.id AS face_id, s.attendee_id, min(f.encoding <-> s.encoding) AS distance
  FROM faces f
  JOIN scope ON scope.face_id = f.id
  JOIN selfies s ON s.event_id = f.event_id AND s.status = 'valid'
  WHERE f.encoding <-> s.encoding <= :radius
    AND NOT EXISTS (
      SELECT 1 FROM match_rejections r
      WHERE r.attendee_id = s.attendee_id AND r.photo_id = f.photo_id
    )
  GROUP BY f.id, s.attendee_id
),
ranked AS (
  SELECT face_id, attendee_id, distance,
         row_number() OVER w AS rank,
         lead(attendee_id) OVER w AS runner_up_attendee_id,
         lead(distance) OVER w AS runner_up
  FROM cand
  WINDOW w AS (PARTITION BY face_id ORDER BY distance, attendee_id)
),
top AS (SELECT * FROM ranked WHERE rank = 1)
,
gone AS (
  DELETE FROM face_nearest n USING scope
  WHERE n.face_id = scope.face_id AND NOT EXISTS (SELECT 1 FROM top WHERE top.face_id = n.face_id)
)
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
)


# Whether the attendee has a valid selfie still (face data deleted meanwhile).
HAS_VALID_SELFIE = text(
    """
SELECT EXISTS (SELECT 1 FROM selfies WHERE attendee_id = :attendee_id AND status = 'valid')
"""
)

# Photos whose faces got their nearest attendees, or had them recomputed (which may move
# them further away: a worker's in-memory matrix then scans the photo in SQL again, see
# face_cache.py): their number in the event's epoch.
NUMBER_PHOTOS = text(
    """
WITH bumped AS (
  UPDATE events SET match_epoch = match_epoch + 1 WHERE id = :event_id RETURNING match_epoch
)
UPDATE photos SET match_epoch = (SELECT match_epoch FROM bumped)
WHERE id = ANY(CAST(:photo_ids AS uuid[]))
"""
)

# The attendee's event, from their row or, once it is gone, from the faces naming them.
EVENT_OF_ATTENDEE = text(
    """
SELECT coalesce((SELECT event_id FROM attendees WHERE id = :attendee_id), (SELECT event_id FROM (
SELECT event_id FROM face_nearest WHERE attendee_id = :attendee_id
UNION
SELECT event_id FROM face_nearest WHERE runner_up_attendee_id = :attendee_id
) naming LIMIT 1))
"""
)

# The photos of an event whose faces name the attendee, nearest or runner-up.
PHOTOS_NAMING = text(
    """
SELECT DISTINCT photo_id FROM face_nearest WHERE event_id = :event_id
  AND (attendee_id = :attendee_id OR runner_up_attendee_id = :attendee_id)
"""
)


# -- matches: a filter over face_nearest -----------------------------------------------
#
# One shape for every scope: `best` is each (attendee, photo)'s best face by the rules
# (workers/matching/__init__.py); `gone` deletes the scope's matches no longer there,
# found by a condition on m.photo_id, not by a join with the scope: joined with a CTE,
# whose rows have no statistics, the planner expected a tenth of the table and read all
# of it (65 ms per selfie at a million faces). The upsert writes only what changed, so a
# match that survives keeps its `created_at`. The answer: how many matches were written,
# and the attendees of those that are new (an insert's xmax is 0), never a row per match
# (a rematch at a million faces writes hundreds of thousands).

# One photo's matches.
MATCH_PHOTO = text(
    """
WITH scope AS (SELECT CAST(:photo_id AS uuid) AS photo_id),
best AS (
  SELECT DISTINCT ON (n.attendee_id, n.photo_id) n.attendee_id, n.photo_id, n.face_id, n.distance
  FROM face_nearest n
  JOIN scope ON scope.photo_id = n.photo_id
  WHERE n.event_id = :event_id
    AND n.distance <= :tolerance
                      - CASE WHEN n.quality < :weak_quality THEN :weak_penalty ELSE 0 END
    AND (n.runner_up IS NULL OR n.runner_up - n.distance >= :margin)
    AND NOT n.lookalike
    AND EXISTS (SELECT 1 FROM selfies v WHERE v.attendee_id = n.attendee_id
                AND v.status = 'valid')
    AND EXISTS (SELECT 1 FROM attendees c WHERE c.id = n.attendee_id
                AND c.consent_policy_version = :consent_version)
  ORDER BY n.attendee_id, n.photo_id, n.distance, n.face_id
),
gone AS (
  DELETE FROM matches m
  WHERE m.photo_id = :photo_id
    AND NOT EXISTS (
      SELECT 1 FROM best b WHERE b.attendee_id = m.attendee_id AND b.photo_id = m.photo_id
    )
  RETURNING m.id
),
written AS (
  INSERT INTO matches (id, attendee_id, photo_id, face_id, event_id, distance, created_at)
  SELECT gen_random_uuid(), attendee_id, photo_id, face_id, :event_id, distance, now()
  FROM best
  ON CONFLICT (attendee_id, photo_id) DO UPDATE
    SET face_id = EXCLUDED.face_id, distance = EXCLUDED.distance
    WHERE matches.face_id IS DISTINCT FROM EXCLUDED.face_id
       OR matches.distance IS DISTINCT FROM EXCLUDED.distance
  RETURNING attendee_id, xmax = 0 AS made
)
SELECT count(*), coalesce(array_agg(DISTINCT attendee_id) FILTER (WHERE made), '{}')
FROM written
"""
)

# Several photos' matches.
MATCH_PHOTOS = text(
    """
WITH scope AS (SELECT DISTINCT unnest(CAST(:photo_ids AS uuid[])) AS photo_id),
best AS (
  SELECT DISTINCT ON (n.attendee_id, n.photo_id) n.attendee_id, n.photo_id, n.face_id, n.distance
  FROM face_nearest n
  JOIN scope ON scope.photo_id = n.photo_id
  WHERE n.event_id = :event_id
    AND n.distance <= :tolerance
                      - CASE WHEN n.quality < :weak_quality THEN :weak_penalty ELSE 0 END
    AND (n.runner_up IS NULL OR n.runner_up - n.distance >= :margin)
    AND NOT n.lookalike
    AND EXISTS (SELECT 1 FROM selfies v WHERE v.attendee_id = n.attendee_id
                AND v.status = 'valid')
    AND EXISTS (SELECT 1 FROM attendees c WHERE c.id = n.attendee_id
                AND c.consent_policy_version = :consent_version)
  ORDER BY n.attendee_id, n.photo_id, n.distance, n.face_id
),
gone AS (
  DELETE FROM matches m
  WHERE m.photo_id = ANY(CAST(:photo_ids AS uuid[]))
    AND NOT EXISTS (
      SELECT 1 FROM best b WHERE b.attendee_id = m.attendee_id AND b.photo_id = m.photo_id
    )
  RETURNING m.id
),
written AS (
  INSERT INTO matches (id, attendee_id, photo_id, face_id, event_id, distance, created_at)
  SELECT gen_random_uuid(), attendee_id, photo_id, face_id, :event_id, distance, now()
  FROM best
  ON CONFLICT (attendee_id, photo_id) DO UPDATE
    SET face_id = EXCLUDED.face_id, distance = EXCLUDED.distance
    WHERE matches.face_id IS DISTINCT FROM EXCLUDED.face_id
       OR matches.distance IS DISTINCT FROM EXCLUDED.distance
  RETURNING attendee_id, xmax = 0 AS made
)
SELECT count(*), coalesce(array_agg(DISTINCT attendee_id) FILTER (WHERE made), '{}')
FROM written
"""
)

# One attendee's match in one photo, for each (photo, attendee) pair given: a new selfie
# moves a few attendees' matches in a photo, not the photo's every match.
MATCH_PAIRS = text(
    """
WITH scope AS (SELECT DISTINCT * FROM unnest(CAST(:photo_ids AS uuid[]),
  CAST(:attendee_ids AS uuid[])) AS pair(photo_id, attendee_id)),
best AS (
  SELECT DISTINCT ON (n.attendee_id, n.photo_id) n.attendee_id, n.photo_id, n.face_id, n.distance
  FROM face_nearest n
  JOIN scope ON scope.photo_id = n.photo_id AND scope.attendee_id = n.attendee_id
  WHERE n.event_id = :event_id
    AND n.distance <= :tolerance
                      - CASE WHEN n.quality < :weak_quality THEN :weak_penalty ELSE 0 END
    AND (n.runner_up IS NULL OR n.runner_up - n.distance >= :margin)
    AND NOT n.lookalike
    AND EXISTS (SELECT 1 FROM selfies v WHERE v.attendee_id = n.attendee_id
                AND v.status = 'valid')
    AND EXISTS (SELECT 1 FROM attendees c WHERE c.id = n.attendee_id
                AND c.consent_policy_version = :consent_version)
  ORDER BY n.attendee_id, n.photo_id, n.distance, n.face_id
),
gone AS (
  DELETE FROM matches m
  WHERE m.photo_id = ANY(CAST(:photo_ids AS uuid[])) AND (m.photo_id,
    m.attendee_id) IN (SELECT photo_id, attendee_id FROM scope)
    AND NOT EXISTS (
      SELECT 1 FROM best b WHERE b.attendee_id = m.attendee_id AND b.photo_id = m.photo_id
    )
  RETURNING m.id
),
written AS (
  INSERT INTO matches (id, attendee_id, photo_id, face_id, event_id, distance, created_at)
  SELECT gen_random_uuid(), attendee_id, photo_id, face_id, :event_id, distance, now()
  FROM best
  ON CONFLICT (attendee_id, photo_id) DO UPDATE
    SET face_id = EXCLUDED.face_id, distance = EXCLUDED.distance
    WHERE matches.face_id IS DISTINCT FROM EXCLUDED.face_id
       OR matches.distance IS DISTINCT FROM EXCLUDED.distance
  RETURNING attendee_id, xmax = 0 AS made
)
SELECT count(*), coalesce(array_agg(DISTINCT attendee_id) FILTER (WHERE made), '{}')
FROM written
"""
)

# Every match of the event.
MATCH_EVENT = text(
    """
WITH scope AS (SELECT id AS photo_id FROM photos WHERE event_id = :event_id),
best AS (
  SELECT DISTINCT ON (n.attendee_id, n.photo_id) n.attendee_id, n.photo_id, n.face_id, n.distance
  FROM face_nearest n
  JOIN scope ON scope.photo_id = n.photo_id
  WHERE n.event_id = :event_id
    AND n.distance <= :tolerance
                      - CASE WHEN n.quality < :weak_quality THEN :weak_penalty ELSE 0 END
    AND (n.runner_up IS NULL OR n.runner_up - n.distance >= :margin)
    AND NOT n.lookalike
    AND EXISTS (SELECT 1 FROM selfies v WHERE v.attendee_id = n.attendee_id
                AND v.status = 'valid')
    AND EXISTS (SELECT 1 FROM attendees c WHERE c.id = n.attendee_id
                AND c.consent_policy_version = :consent_version)
  ORDER BY n.attendee_id, n.photo_id, n.distance, n.face_id
),
gone AS (
  DELETE FROM matches m
  WHERE m.event_id = :event_id
    AND NOT EXISTS (
      SELECT 1 FROM best b WHERE b.attendee_id = m.attendee_id AND b.photo_id = m.photo_id
    )
  RETURNING m.id
),
written AS (
  INSERT INTO matches (id, attendee_id, photo_id, face_id, event_id, distance, created_at)
  SELECT gen_random_uuid(), attendee_id, photo_id, face_id, :event_id, distance, now()
  FROM best
  ON CONFLICT (attendee_id, photo_id) DO UPDATE
    SET face_id = EXCLUDED.face_id, distance = EXCLUDED.distance
    WHERE matches.face_id IS DISTINCT FROM EXCLUDED.face_id
       OR matches.distance IS DISTINCT FROM EXCLUDED.distance
  RETURNING attendee_id, xmax = 0 AS made
)
SELECT count(*), coalesce(array_agg(DISTINCT attendee_id) FILTER (WHERE made), '{}')
FROM written
"""
)


# The attendees a match was made for have news since the first of them, if they asked for
# digests (which read it; one who opts in later counts matches from then on).
MARK_NEWS = text(
    """
UPDATE attendees SET news_since = coalesce(news_since, now())
WHERE id = ANY(CAST(:attendee_ids AS uuid[])) AND notify
"""
)


# Whether an event tells a webhook about its matches.
HAS_WEBHOOK = text("SELECT webhook_url IS NOT NULL FROM events WHERE id = :event_id")

# The matches this transaction made for these attendees, at events with a webhook: what
# the webhook tells (workers/webhooks.py). A new match's created_at is the transaction's.
NEW_MATCHES_FOR_WEBHOOKS = text(
    """
SELECT m.event_id, m.photo_id, m.attendee_id, a.share_email, u.email
FROM matches m
JOIN events e ON e.id = m.event_id AND e.webhook_url IS NOT NULL
JOIN attendees a ON a.id = m.attendee_id
JOIN users u ON u.id = a.user_id
WHERE m.attendee_id = ANY(CAST(:attendee_ids AS uuid[])) AND m.created_at = now()
ORDER BY m.event_id, m.photo_id, m.attendee_id
"""
)


# -- look-alike groups: each attendee's faces grouped into people (lookalikes.py) ------

# The attendees named by some faces, within the grouping scope: theirs are the groups a
# change of those faces' nearest attendees can change.
# (event_id first: the index is on (event_id, photo_id); without it, a scan of the table,
# 40 ms a photo at a million faces.)
NAMED_BY_PHOTOS = text(
    """
SELECT DISTINCT attendee_id FROM face_nearest WHERE event_id = :event_id
  AND photo_id = ANY(CAST(:photo_ids AS uuid[])) AND distance <= :scope
"""
)

# The attendees a new selfie takes faces from: those faces leave their groups. (A face
# where the newcomer only becomes the runner-up stays where it was.)
TAKEN_FROM = text(
    """
SELECT DISTINCT n.attendee_id
FROM unnest(CAST(:face_ids AS uuid[]), CAST(:distances AS float8[])) AS g(face_id, distance)
JOIN face_nearest n USING (face_id)
WHERE n.distance <= :scope AND n.attendee_id <> :attendee_id
  AND (g.distance, CAST(:attendee_id AS uuid)) < (n.distance, n.attendee_id)
"""
)

# Every attendee named within the scope in the event.
NAMED_IN_EVENT = text(
    """
SELECT DISTINCT attendee_id FROM face_nearest WHERE event_id = :event_id AND distance <= :scope
"""
)

# Read in binary, each encoding as pgvector's own binary form (vector_send), turned into
# one matrix at once (as text, real[] cost 6 ms per 100 faces to parse; a rematch reads
# every face of the event).
GROUPED = """
SELECT n.attendee_id, n.face_id, n.photo_id, n.distance, n.lookalike, vector_send(f.encoding)
FROM face_nearest n JOIN faces f ON f.id = n.face_id
WHERE n.attendee_id = ANY(%(attendee_ids)s) AND n.distance <= %(scope)s
ORDER BY n.attendee_id, n.face_id
"""


SET_LOOKALIKE = text(
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
MAY_HOLD = text(
    """
SELECT attendee_id FROM face_nearest
WHERE attendee_id = ANY(CAST(:attendee_ids AS uuid[])) AND distance <= :scope
GROUP BY attendee_id
HAVING max(distance) > :threshold OR bool_or(lookalike)
"""
)


# -- the rules as brute force, and a tolerance's preview (rules.py) --------------------

# Every face's nearest attendee by comparing every face with every selfie.
REFERENCE = text(
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

# The event's kept nearest attendees within a tolerance's grouping scope, in `rules.decide`'s
# shape (read in binary: see GROUPED).
KEPT = """
SELECT n.attendee_id, n.face_id, n.photo_id, n.distance, n.runner_up, vector_send(f.encoding),
       CASE WHEN n.quality < %(weak_quality)s THEN %(weak_penalty)s ELSE 0 END,
       EXISTS (SELECT 1 FROM selfies v WHERE v.attendee_id = n.attendee_id AND v.status = 'valid')
       AND EXISTS (SELECT 1 FROM attendees c WHERE c.id = n.attendee_id
                   AND c.consent_policy_version = %(consent_version)s)
FROM face_nearest n JOIN faces f ON f.id = n.face_id
WHERE n.event_id = %(event_id)s AND n.distance <= %(scope)s
ORDER BY n.attendee_id, n.face_id
"""

MATCHED_PAIRS = text(
    """
SELECT attendee_id, photo_id FROM matches WHERE event_id = :event_id
"""
)


# -- the bulk rebuild (rebuild.py) -----------------------------------------------------

# The event's valid selfies, its faces, and its photos with a "not me" (psycopg, positional).
REBUILD_SELFIES = (
    "SELECT id, attendee_id, encoding FROM selfies WHERE event_id = %s AND status = 'valid'"
)
REBUILD_FACES = "SELECT id, photo_id, encoding FROM faces WHERE event_id = %s"
REBUILD_REJECTED_PHOTOS = """
SELECT DISTINCT r.photo_id FROM match_rejections r
JOIN photos p ON p.id = r.photo_id WHERE p.event_id = %s
"""
REBUILD_CLEAR = text("DELETE FROM face_nearest WHERE event_id = :e")
# The (face, selfie) pairs numpy found can be of a face's top two, for this transaction.
REBUILD_CANDIDATES_TABLE = (
    "CREATE TEMPORARY TABLE nearest_candidates (face_id uuid, selfie_id uuid) ON COMMIT DROP"
)
REBUILD_CANDIDATES_COPY = "COPY nearest_candidates (face_id, selfie_id) FROM STDIN"
# Every candidate pair of `nearest_candidates` decided exactly, ranked and written.
BUILD = text(
    """
WITH
cand AS (
  SELECT f.id AS face_id, s.attendee_id, min(f.encoding <-> s.encoding) AS distance
  FROM nearest_candidates c
  JOIN faces f ON f.id = c.face_id
  JOIN selfies s ON s.id = c.selfie_id
  WHERE f.encoding <-> s.encoding <= :radius
    AND NOT EXISTS (
      SELECT 1 FROM match_rejections r
      WHERE r.attendee_id = s.attendee_id AND r.photo_id = f.photo_id
    )
  GROUP BY f.id, s.attendee_id
),
ranked AS (
  SELECT face_id, attendee_id, distance,
         row_number() OVER w AS rank,
         lead(attendee_id) OVER w AS runner_up_attendee_id,
         lead(distance) OVER w AS runner_up
  FROM cand
  WINDOW w AS (PARTITION BY face_id ORDER BY distance, attendee_id)
),
top AS (SELECT * FROM ranked WHERE rank = 1)

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
)

# Every indexed photo of the event is numbered again: its faces' nearest attendees may
# have moved either way, and a worker's in-memory matrix must read them again
# (face_cache.py). Photos loaded without the photo job join the event's epoch,
# and so do selfies loaded without the selfie job (selfie_cache.py).
NUMBER_ALL = text(
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


# -- the face cache (face_cache.py): psycopg, positional parameters --------------------

EVENT_EPOCH = "SELECT match_epoch FROM events WHERE id = %s"
EVENT_FACE_COUNT = "SELECT count(*) FROM faces WHERE event_id = %s"
# The faces of the photos numbered in (after, up to], with their kept two distances, as a
# binary COPY (face_cache.py reads its rows with numpy).
EVENT_FACES_COPY = """
COPY (
  SELECT f.id, f.encoding, coalesce(n.distance, 'Infinity')::real,
         coalesce(n.runner_up, 'Infinity')::real
  FROM faces f JOIN photos p ON p.id = f.photo_id LEFT JOIN face_nearest n ON n.face_id = f.id
  WHERE f.event_id = %s AND p.match_epoch > %s AND p.match_epoch <= %s
) TO STDOUT (FORMAT BINARY)
"""
# Every kept face's two distances, as three byte strings ordered by face id.
KEPT_DISTANCES = """
SELECT coalesce(string_agg(uuid_send(face_id), '' ORDER BY face_id), ''),
       coalesce(string_agg(float4send(distance::real), '' ORDER BY face_id), ''),
       coalesce(string_agg(float4send(coalesce(runner_up, 'Infinity')::real), ''
                           ORDER BY face_id), '')
FROM face_nearest WHERE event_id = %s
"""

# -- the selfie cache (selfie_cache.py): psycopg, positional parameters ------------------

# How many valid numbered selfies the event has, and the highest number.
VALID_SELFIES_COUNT = """
SELECT count(*), coalesce(max(match_epoch), -1) FROM selfies
WHERE event_id = %s AND status = 'valid' AND match_epoch IS NOT NULL
"""
# The valid selfies numbered in (after, up to].
VALID_SELFIES_BETWEEN = """
SELECT id, attendee_id, encoding FROM selfies
WHERE event_id = %s AND status = 'valid' AND match_epoch > %s AND match_epoch <= %s
"""
