"""The valid selfies of busy events in the worker's memory, so a new photo's faces find
their candidate attendees in numpy.

A newly indexed photo's faces each need their two nearest attendees. In SQL that is
every face of the photo against every valid selfie of the event: 20 faces and 10,000
selfies are 200,000 pgvector distances, 40 ms of the event's matching lock per photo.
Here the worker keeps, for each event with at least MIN_SELFIES valid selfies whose
photos it has indexed lately, the selfies as one float32 matrix (10,000 selfies: 5 MiB),
and a photo's faces against it are one small matrix product (under a millisecond).

The decision stays in SQL. For each face, `limits` bounds how far a selfie of its top
two attendees can be, from the two nearest attendees the matrix shows, plus SLACK for
float32's error; only the (face, selfie) pairs within that bound go to SQL, with the
selfies the matrix has not seen. pgvector then computes their exact distances and
ranks them, as for every other path (workers/matching.py).

What the matrix has seen is told by `selfies.match_epoch`: a selfie is numbered from a
sequence under its event's matching lock when it is first matched, so within an event
the numbers follow the commits, and the matrix holds every valid selfie numbered up to
its epoch. Selfies numbered later, or not yet, are read in SQL. A selfie gone since
(face data deleted) is a stale row: SQL drops its pairs, but it may have made a bound
too tight, so the two selfies behind each face's bound (its "witnesses") are checked
to be valid still, and where one is not the photo is scanned in SQL. The main process
reads the whole matrix again when it finds fewer valid selfies than it holds.

A worker keeps at most FACEMATCH_SELFIE_CACHE_MAX_SELFIES selfies in all. The matrices
live in the worker's main process, refreshed between jobs from its heartbeat (`refresh`),
and the work horses read them without copying.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from core.config import NEAREST_RADIUS, settings
from core.models import ENCODING_DIMENSIONS
from workers.hot import HotEvents

log = logging.getLogger(__name__)

MIN_SELFIES = 1000
"""Fewer are compared in SQL: 20 faces x 1,000 selfies is a few milliseconds."""
HOT_SECONDS = 3600
"""An event whose photos were matched within this long is kept in memory."""
REFRESH_SECONDS = 5.0
"""At most one refresh (one database connection) this often."""
SLACK = 0.01
"""How far past a bound a float32 candidate is kept; float32's error is ~1e-5."""
HOT = HotEvents("facematch:selfie-cache:hot", HOT_SECONDS)


@dataclass
class EventSelfies:
    event_id: uuid.UUID
    epoch: int
    """Every valid selfie of the event numbered up to this is a row."""
    ids: list[uuid.UUID]
    attendees: list[uuid.UUID]
    matrix: np.ndarray
    norms: np.ndarray = field(init=False)
    owners: np.ndarray = field(init=False)
    """Each row's attendee as a small integer."""

    def __post_init__(self) -> None:
        self.norms = (self.matrix * self.matrix).sum(axis=1)
        self.owners = np.unique([a.int for a in self.attendees], return_inverse=True)[1]

    def pairs(
        self, faces: np.ndarray, keep_all: bool
    ) -> tuple[np.ndarray, list[uuid.UUID], list[uuid.UUID]]:
        """For the faces (rows): the (face row, selfie id) pairs within each face's bound,
        and the witnesses, the selfies the bounds were taken from. With `keep_all` (the
        photo has a "not me"), every selfie within the radius."""
        squared = (faces * faces).sum(axis=1)[:, None] + self.norms[None, :]
        squared -= 2.0 * (faces @ self.matrix.T)
        distances = np.sqrt(np.maximum(squared, 0.0))
        bounds, witnesses = limits(distances, self.owners, np.full(len(faces), keep_all))
        rows, columns = np.nonzero(distances <= bounds[:, None])
        return rows, [self.ids[j] for j in columns], [self.ids[j] for j in witnesses]


def limits(
    distances: np.ndarray, owners: np.ndarray, keep_all: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per face (row of float32 distances to selfies, whose attendees are `owners`), how
    far a selfie may be and still be the exact top two's; and the selfies (columns) each
    bound rests on.

    float32 is within SLACK of pgvector's distance, so the exact runner-up attendee is
    no further than the float32 runner-up attendee plus SLACK, and no candidate of the
    top two is further than that plus another SLACK. A selfie counts with its attendee:
    the nearest `most selfies of one attendee + 1` selfies always hold two attendees.
    The bound holds only while both selfies it rests on are valid: were the nearest one
    gone, a third attendee further away would be the runner-up.
    """
    radius = NEAREST_RADIUS + SLACK
    bounds = np.full(len(distances), radius, dtype=np.float64)
    witnesses: list[int] = []
    if len(owners) == 0 or int(owners.max()) < 1:
        return bounds, np.array(witnesses, dtype=np.int64)
    k = min(int(np.bincount(owners).max()) + 1, distances.shape[1])
    nearest = np.argpartition(distances, k - 1, axis=1)[:, :k]
    for row in np.flatnonzero(~keep_all):
        order = nearest[row][np.argsort(distances[row, nearest[row]])]
        first = owners[order[0]]
        second = next((j for j in order[1:] if owners[j] != first), None)
        if second is not None and distances[row, second] + 2 * SLACK < radius:
            bounds[row] = float(distances[row, second]) + 2 * SLACK
            witnesses += [int(order[0]), int(second)]
    return bounds, np.unique(np.array(witnesses, dtype=np.int64))


_events: dict[uuid.UUID, EventSelfies] = {}
_refreshed_at = 0.0


def get(event_id: uuid.UUID) -> EventSelfies | None:
    return _events.get(event_id)


def mark_hot(redis: Any, event_id: uuid.UUID) -> None:
    """A photo of this event was matched: workers keep its selfies in memory for a while."""
    HOT.mark(redis, event_id)


def refresh(url: str, redis: Any) -> None:
    """In the worker's main process, between jobs: load the hot busy events' selfies, add
    those numbered since, drop events no longer hot."""
    global _refreshed_at
    now = time.time()
    if settings.SELFIE_CACHE_MAX_SELFIES == 0 or now - _refreshed_at < REFRESH_SECONDS:
        return
    _refreshed_at = now
    hot = HOT.read(redis, now)
    for gone in set(_events) - hot:
        del _events[gone]
    if hot:
        keep(url, sorted(hot))


def keep(url: str, event_ids: list[uuid.UUID]) -> None:
    """Load these events' selfies, or add those numbered since they were read. Its own
    connection, closed before any fork; one snapshot, so that the count of valid selfies
    and the rows read agree."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as connection:
        connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        register_vector(connection)
        for event_id in event_ids:
            _keep(connection, event_id)


_COUNT = (
    "SELECT count(*), coalesce(max(match_epoch), -1) FROM selfies"
    " WHERE event_id = %s AND status = 'valid' AND match_epoch IS NOT NULL"
)
_READ = (
    "SELECT id, attendee_id, encoding FROM selfies"
    " WHERE event_id = %s AND status = 'valid' AND match_epoch > %s AND match_epoch <= %s"
)


def _keep(connection: Any, event_id: uuid.UUID) -> None:
    count, epoch = connection.execute(_COUNT, (event_id,)).fetchone()
    cached = _events.pop(event_id, None)
    room = settings.SELFIE_CACHE_MAX_SELFIES - sum(len(e.ids) for e in _events.values())
    if count < MIN_SELFIES or count > room:
        return  # SQL compares the photo's faces with every selfie
    if cached is not None and epoch == cached.epoch and count == len(cached.ids):
        _events[event_id] = cached
        return
    after = cached.epoch if cached is not None else -1
    rows = connection.execute(_READ, (event_id, after, epoch)).fetchall()
    if cached is not None and len(cached.ids) + len(rows) == count:
        ids, attendees = cached.ids + [r[0] for r in rows], cached.attendees + [r[1] for r in rows]
        vectors = np.concatenate([cached.matrix, matrix([r[2] for r in rows])])
    else:  # a first read, or selfies gone since (face data deleted): read them all
        rows = connection.execute(_READ, (event_id, -1, epoch)).fetchall()
        ids, attendees = [r[0] for r in rows], [r[1] for r in rows]
        vectors = matrix([r[2] for r in rows])
        log.info("selfie cache: %d selfies of event %s read", len(ids), event_id)
    _events[event_id] = EventSelfies(event_id, epoch, ids, attendees, vectors)


def matrix(vectors: list[Any]) -> np.ndarray:
    """pgvector's values (Vector objects or arrays, by the connection's adapters) as
    float32 rows."""
    if not vectors:
        return np.empty((0, ENCODING_DIMENSIONS), dtype=np.float32)
    return np.stack([v.to_numpy() if hasattr(v, "to_numpy") else v for v in vectors]).astype(
        np.float32
    )
