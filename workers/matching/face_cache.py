"""The faces of big events in the worker's memory, so a new selfie finds its faces in numpy.

A new selfie must find every face of its event within NEAREST_RADIUS of it: in SQL
that is a scan of the event's faces, about 0.6 ms per thousand (a million faces: over
half a second, for every selfie). Here the worker process keeps, for each event with
at least MIN_FACES faces whose selfies it has judged lately, the event's face
encodings as one float32 matrix, and a selfie's candidates are one matrix-vector
product (about 50 ms for a million faces, memory-bound). The decision stays in SQL:
the candidates, all within NEAREST_RADIUS + SLACK in float32 (whose error on these
distances is under 1e-5), get their exact pgvector distances there, with the faces
the matrix has not seen yet.

What the matrix has seen is told by the event's `match_epoch`: every photo is numbered
when its faces get their nearest attendees, under the event's matching lock, so the
faces of photos numbered up to the matrix's epoch are all in it, and the others are
found in SQL by their photo's number. A face deleted since is a stale row that SQL
no longer finds, and a reindexed photo is numbered again.

Beside each face the matrix keeps its two distances from `face_nearest` (infinity when
there is none): a newcomer further than the runner-up, or further than the nearest plus
MAX_MATCH_MARGIN, changes nothing the face keeps (workers/matching/__init__.py), so the face
skips SQL. Without this, a "hub" selfie, one that thousands of strangers' faces fall
within the radius of, sent them all to SQL (a selfie's p95 was 1.3 s at a million
faces). Kept distances only get smaller as selfies arrive, so old ones let through
more, never less; whatever can make one larger (a selfie gone, "not me", a rebuild)
numbers the face's photo again, and SQL scans it until the next refresh. The distances
are read again every DISTANCES_SECONDS, so that the filter stays sharp while an event's
attendees register.

A worker keeps at most FACEMATCH_FACE_CACHE_MAX_FACES faces (0, the default: none); the
chart turns it on for the `interactive` pool, which judges selfies and has the memory.
The matrices live in the worker's main process: it refreshes them between jobs
(`refresh`, from the worker's heartbeat), and each work horse it forks reads them
without copying (the pages are shared until written, and a horse never writes them).
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.config import MAX_MATCH_MARGIN, NEAREST_RADIUS, settings
from core.models import ENCODING_DIMENSIONS
from workers.matching import statements as sql
from workers.matching.cache import EventCache, HotEvents

log = logging.getLogger(__name__)

MIN_FACES = 50_000
"""Smaller events are scanned in SQL (200 k faces: ~0.1 s; 20 k: 16 ms)."""
HOT_SECONDS = 3600
"""An event whose selfies were judged within this long is kept in memory."""
SLACK = 0.01
BLOCK = 20_000
"""The smallest load's arrays, in faces."""
HOT = HotEvents("facematch:face-cache:hot", HOT_SECONDS)
_LOADING_KEY = "facematch:face-cache:loading:{}"
LOADING_SECONDS = 300
"""A load's turn expires after this, should its worker die mid-load."""


@dataclass
class Block:
    ids: np.ndarray
    """The faces' ids as 16 bytes each: a million Python UUIDs would be copied into every
    work horse as soon as it touched their reference counts."""
    matrix: np.ndarray
    squared_norms: np.ndarray
    nearest: np.ndarray
    """Each face's nearest attendee's distance as it was read (float32; infinity: none)."""
    runner_up: np.ndarray
    """And its runner-up's."""
    bound: np.ndarray = field(init=False)
    """How far (squared) a newcomer may be and still change what the face keeps: within
    the radius, its runner-up, and its nearest plus MAX_MATCH_MARGIN, each plus SLACK.
    Computed once per read of the distances, not per selfie."""

    def __post_init__(self) -> None:
        self.set_distances(self.nearest, self.runner_up)

    def set_distances(self, nearest: np.ndarray, runner_up: np.ndarray) -> None:
        self.nearest, self.runner_up = nearest, runner_up
        kept = np.minimum(runner_up, nearest + np.float32(MAX_MATCH_MARGIN))
        limit = np.float32((NEAREST_RADIUS + SLACK) ** 2)
        self.bound = np.minimum(limit, np.square(kept + np.float32(SLACK)))


@dataclass
class EventFaces:
    event_id: uuid.UUID
    epoch: int
    """Every face of a photo numbered up to this is in a block."""
    blocks: list[Block]
    distances_read_at: float = 0.0

    @property
    def faces(self) -> int:
        return sum(len(block.ids) for block in self.blocks)

    def candidates(self, selfies: np.ndarray) -> list[uuid.UUID]:
        """Faces within NEAREST_RADIUS + SLACK of one of an attendee's `selfies` (rows) whose
        kept two the attendee may change: no further than the runner-up, nor than the
        nearest plus MAX_MATCH_MARGIN, each plus SLACK."""
        found: list[uuid.UUID] = []
        for block in self.blocks:
            nearest = np.full(len(block.ids), np.inf, dtype=np.float32)
            for selfie in selfies.astype(np.float32):
                squared = block.squared_norms - 2.0 * (block.matrix @ selfie) + selfie @ selfie
                np.minimum(nearest, squared, out=nearest)
            found += [uuid.UUID(bytes=bytes(i)) for i in block.ids[nearest <= block.bound]]
        return found


SMALL_RECHECK = 300
"""A hot event found too small to keep is looked at again after this long."""
MAX_BLOCKS = 8
DISTANCES_SECONDS = 60.0
"""The kept distances are read again this often."""


class FaceCache(EventCache[EventFaces]):
    def __init__(self, hot: HotEvents) -> None:
        super().__init__(hot)
        self.small: dict[uuid.UUID, float] = {}
        """Hot events found too small to keep, and when."""

    def capacity(self) -> int:
        return settings.FACE_CACHE_MAX_FACES

    def wanted(self, hot: set[uuid.UUID], now: float) -> list[uuid.UUID]:
        return [e for e in hot if e in self.events or now - self.small.get(e, 0.0) > SMALL_RECHECK]

    def keep(self, url: str, event_ids: list[uuid.UUID], redis: Any = None) -> None:
        """With `redis`, the workers load an event one at a time: a worker that loads takes
        no job meanwhile (200 k faces: seconds), and a pool whose workers all loaded at
        once, as an event turned hot, judged no selfie until they were done."""
        super().keep(url, event_ids, redis)

    def load(self, connection: Any, event_id: uuid.UUID, redis: Any = None) -> None:
        row = connection.execute(sql.EVENT_EPOCH, (event_id,)).fetchone()
        cached = self.events.get(event_id)
        if row is None:
            self.events.pop(event_id, None)
        elif cached is None:
            (count,) = connection.execute(sql.EVENT_FACE_COUNT, (event_id,)).fetchone() or (0,)
            kept = sum(event.faces for event in self.events.values())
            if count < MIN_FACES or kept + count > settings.FACE_CACHE_MAX_FACES:
                self.small[event_id] = time.time()  # too small, or no room: SQL scans it
                return
            loading = _LOADING_KEY.format(event_id)
            if redis is not None and not redis.set(loading, "1", nx=True, ex=LOADING_SECONDS):
                return  # another worker is loading it; this one keeps judging selfies
            started = time.perf_counter()
            try:
                block = _load(connection, event_id, -1, row[0], expected=count)
            finally:
                if redis is not None:
                    redis.delete(loading)
            self.events[event_id] = EventFaces(event_id, row[0], [block], time.time())
            log.info("face cache: %d faces of event %s loaded in %.1f s", len(block.ids),
                     event_id, time.perf_counter() - started)  # fmt: skip
        elif row[0] > cached.epoch:
            block = _load(connection, event_id, cached.epoch, row[0])
            half = cached.faces // 2
            if len(block.ids) > half and _read_again(block, cached) > half:
                self.events.pop(event_id)  # numbered again wholesale (a rebuild): read afresh
                self.load(connection, event_id, redis)
                return
            cached.blocks.append(block)
            cached.epoch = row[0]
            if len(cached.blocks) > MAX_BLOCKS:  # a block per refresh: merge the small ones
                first, *rest = cached.blocks
                cached.blocks = [first, _merge(rest)]
                if len(cached.blocks[1].ids) > len(first.ids) // 10:
                    cached.blocks = [_merge(cached.blocks)]
        current = self.events.get(event_id)
        if current is not None and time.time() - current.distances_read_at > DISTANCES_SECONDS:
            _read_distances(connection, current)


CACHE = FaceCache(HOT)
"""This process's matrices; a selfie of a hot event was judged lately."""
get, mark_hot, refresh, keep = CACHE.get, CACHE.mark_hot, CACHE.refresh, CACHE.keep
_events, _small = CACHE.events, CACHE.small


def _read_again(block: Block, cached: EventFaces) -> int:
    """How many of the block's faces the matrix holds already."""
    return int(sum(np.isin(block.ids, kept.ids).sum() for kept in cached.blocks))


def _merge(blocks: list[Block]) -> Block:
    return Block(
        np.concatenate([b.ids for b in blocks]),
        np.concatenate([b.matrix for b in blocks]),
        np.concatenate([b.squared_norms for b in blocks]),
        np.concatenate([b.nearest for b in blocks]),
        np.concatenate([b.runner_up for b in blocks]),
    )


def _read_distances(connection: Any, cached: EventFaces) -> None:
    """Every kept face's two distances as they are now, in byte strings (a million rows
    as Python objects would take seconds)."""
    started = time.perf_counter()
    ids, nearest, runner_up = connection.execute(sql.KEPT_DISTANCES, (cached.event_id,)).fetchone()
    ids = np.frombuffer(ids, dtype="V16")
    columns = [np.frombuffer(nearest, ">f4"), np.frombuffer(runner_up, ">f4")]
    for block in cached.blocks:
        at = np.minimum(np.searchsorted(ids, block.ids), max(len(ids) - 1, 0))
        kept = (ids[at] == block.ids) if len(ids) else np.zeros(len(block.ids), dtype=bool)
        fresh = [np.where(kept, values[at] if len(ids) else np.inf, np.inf) for values in columns]
        block.set_distances(*(values.astype(np.float32) for values in fresh))
    cached.distances_read_at = time.time()
    log.info("face cache: distances of event %s read in %.2f s", cached.event_id,
             time.perf_counter() - started)  # fmt: skip


# A row of the binary COPY (statements.EVENT_FACES_COPY): every field has a fixed width
# (pgvector sends a vector as its dimension, an unused int16 and the floats), so numpy
# reads the stream as is,
# without a Python object per row (a million faces: 38 s that way, seconds this way).
_ROW = np.dtype([
    ("fields", ">i2"), ("id_len", ">i4"), ("id", "V16"), ("encoding_len", ">i4"),
    ("dim", ">i2"), ("unused", ">i2"), ("encoding", ">f4", (ENCODING_DIMENSIONS,)),
    ("nearest_len", ">i4"), ("nearest", ">f4"), ("runner_up_len", ">i4"), ("runner_up", ">f4"),
])  # fmt: skip
_COPY_HEADER = 19
"""PGCOPY's signature, flags and header extension length."""


def _load(
    connection: Any, event_id: uuid.UUID, after_epoch: int, upto_epoch: int, expected: int = 0
) -> Block:
    """Faces of the event's photos numbered in (after_epoch, upto_epoch], streamed into
    arrays sized for `expected` faces (grown if there are more)."""
    capacity = max(expected, BLOCK)
    ids = np.empty(capacity, dtype="V16")
    matrix = np.empty((capacity, ENCODING_DIMENSIONS), dtype=np.float32)
    nearest = np.empty(capacity, dtype=np.float32)
    runner_up = np.empty(capacity, dtype=np.float32)
    count, pending, header = 0, bytearray(), True
    with (
        connection.cursor() as cursor,
        cursor.copy(sql.EVENT_FACES_COPY, (event_id, after_epoch, upto_epoch)) as copy,
    ):
        for chunk in copy:
            pending += chunk
            if header and len(pending) >= _COPY_HEADER:
                del pending[:_COPY_HEADER]
                header = False
            rows = 0 if header else len(pending) // _ROW.itemsize
            if not rows:
                continue
            parsed = np.frombuffer(bytes(pending[: rows * _ROW.itemsize]), dtype=_ROW)
            del pending[: rows * _ROW.itemsize]
            if (
                not (parsed["fields"] == 4).all()
                or not (parsed["dim"] == ENCODING_DIMENSIONS).all()
            ):
                raise ValueError("face cache: an unexpected COPY row layout")
            if count + rows > capacity:  # more faces than counted: numbered meanwhile
                capacity = 2 * (count + rows)
                ids, nearest, runner_up = (
                    np.resize(a, capacity) for a in (ids, nearest, runner_up)
                )
                matrix = np.resize(matrix, (capacity, ENCODING_DIMENSIONS))
            ids[count : count + rows] = parsed["id"]
            matrix[count : count + rows] = parsed["encoding"]
            nearest[count : count + rows] = parsed["nearest"]
            runner_up[count : count + rows] = parsed["runner_up"]
            count += rows
    if bytes(pending) != b"\xff\xff":  # the trailer: every row was read whole
        raise ValueError("face cache: the COPY stream ended mid-row")
    matrix = matrix[:count].copy() if count < capacity // 2 else matrix[:count]
    return Block(
        ids[:count].copy(),
        matrix,
        (matrix * matrix).sum(axis=1),
        nearest[:count].copy(),
        runner_up[:count].copy(),
    )
