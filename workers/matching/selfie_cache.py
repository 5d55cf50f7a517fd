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
ranks them, as for every other path (workers/matching/__init__.py).

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
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.config import NEAREST_RADIUS, settings
from core.models import ENCODING_DIMENSIONS
from workers.matching import statements as sql
from workers.matching.cache import EventCache, HotEvents

log = logging.getLogger(__name__)

MIN_SELFIES = 1000
"""Fewer are compared in SQL: 20 faces x 1,000 selfies is a few milliseconds."""
HOT_SECONDS = 3600
"""An event whose photos were matched within this long is kept in memory."""
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


class SelfieCache(EventCache[EventSelfies]):
    snapshot = True  # the count of valid selfies and the rows read agree

    def capacity(self) -> int:
        return settings.SELFIE_CACHE_MAX_SELFIES

    def load(self, connection: Any, event_id: uuid.UUID, redis: Any = None) -> None:
        count, epoch = connection.execute(sql.VALID_SELFIES_COUNT, (event_id,)).fetchone()
        cached = self.events.pop(event_id, None)
        room = settings.SELFIE_CACHE_MAX_SELFIES - sum(len(e.ids) for e in self.events.values())
        if count < MIN_SELFIES or count > room:
            return  # SQL compares the photo's faces with every selfie
        if cached is not None and epoch == cached.epoch and count == len(cached.ids):
            self.events[event_id] = cached
            return
        after = cached.epoch if cached is not None else -1
        rows = connection.execute(sql.VALID_SELFIES_BETWEEN, (event_id, after, epoch)).fetchall()
        if cached is not None and len(cached.ids) + len(rows) == count:
            ids = cached.ids + [r[0] for r in rows]
            attendees = cached.attendees + [r[1] for r in rows]
            vectors = np.concatenate([cached.matrix, matrix([r[2] for r in rows])])
        else:  # a first read, or selfies gone since (face data deleted): read them all
            rows = connection.execute(sql.VALID_SELFIES_BETWEEN, (event_id, -1, epoch)).fetchall()
            ids, attendees = [r[0] for r in rows], [r[1] for r in rows]
            vectors = matrix([r[2] for r in rows])
            log.info("selfie cache: %d selfies of event %s read", len(ids), event_id)
        self.events[event_id] = EventSelfies(event_id, epoch, ids, attendees, vectors)


CACHE = SelfieCache(HOT)
"""This process's matrices; a photo of a hot event was matched lately."""
get, mark_hot, refresh, keep = CACHE.get, CACHE.mark_hot, CACHE.refresh, CACHE.keep
_events = CACHE.events


def matrix(vectors: list[Any]) -> np.ndarray:
    """pgvector's values (Vector objects or arrays, by the connection's adapters) as
    float32 rows."""
    if not vectors:
        return np.empty((0, ENCODING_DIMENSIONS), dtype=np.float32)
    return np.stack([v.to_numpy() if hasattr(v, "to_numpy") else v for v in vectors]).astype(
        np.float32
    )
