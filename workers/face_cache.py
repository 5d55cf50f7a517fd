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
MAX_MATCH_MARGIN, changes nothing the face keeps (workers/matching.py), so the face
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
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from pgvector.psycopg import register_vector

from api.config import MAX_MATCH_MARGIN, NEAREST_RADIUS, settings

log = logging.getLogger(__name__)

MIN_FACES = 50_000
"""Smaller events are scanned in SQL (200 k faces: ~0.1 s; 20 k: 16 ms)."""
HOT_SECONDS = 3600
"""An event whose selfies were judged within this long is kept in memory."""
SLACK = 0.01
BLOCK = 20_000
"""Faces read per query while loading."""
_HOT_KEY = "facematch:face-cache:hot"


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
        limit = np.float32((NEAREST_RADIUS + SLACK) ** 2)
        found: list[uuid.UUID] = []
        for block in self.blocks:
            nearest = np.full(len(block.ids), np.inf, dtype=np.float32)
            for selfie in selfies.astype(np.float32):
                squared = block.squared_norms - 2.0 * (block.matrix @ selfie) + selfie @ selfie
                np.minimum(nearest, squared, out=nearest)
            kept = np.minimum(block.runner_up, block.nearest + np.float32(MAX_MATCH_MARGIN))
            bound = np.minimum(limit, np.square(kept + np.float32(SLACK)))
            found += [uuid.UUID(bytes=bytes(i)) for i in block.ids[nearest <= bound]]
        return found


_events: dict[uuid.UUID, EventFaces] = {}
_small: dict[uuid.UUID, float] = {}
"""Hot events found too small to keep, and when: looked at again after SMALL_RECHECK."""
SMALL_RECHECK = 300
MAX_BLOCKS = 8
REFRESH_SECONDS = 5.0
"""At most one refresh (one database connection) this often."""
DISTANCES_SECONDS = 60.0
"""The kept distances are read again this often."""
_refreshed_at = 0.0


def get(event_id: uuid.UUID) -> EventFaces | None:
    return _events.get(event_id)


def mark_hot(redis: Any, event_id: uuid.UUID) -> None:
    """A selfie of this event was judged: workers keep its faces in memory for a while."""
    redis.zadd(_HOT_KEY, {str(event_id): time.time()})


def refresh(url: str, redis: Any) -> None:
    """In the worker's main process, between jobs: load the hot big events' faces, add
    those of photos numbered since, drop events no longer hot."""
    global _refreshed_at
    now = time.time()
    # Called after every job: a connection each time would be work on the hot path, and
    # the faces of photos numbered since the last refresh are found in SQL anyway.
    if settings.FACE_CACHE_MAX_FACES == 0 or now - _refreshed_at < REFRESH_SECONDS:
        return
    _refreshed_at = now
    hot = {uuid.UUID(e.decode()) for e in redis.zrangebyscore(_HOT_KEY, now - HOT_SECONDS, "+inf")}
    for gone in set(_events) - hot:
        del _events[gone]
    wanted = [e for e in hot if e in _events or now - _small.get(e, 0.0) > SMALL_RECHECK]
    if wanted:
        keep(url, wanted)


def keep(url: str, event_ids: list[uuid.UUID]) -> None:
    """Load these events' faces, or add those of photos numbered since they were read. Its
    own connection, closed before any fork: a work horse must not inherit a live one."""
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://", 1)) as connection:
        register_vector(connection)
        for event_id in event_ids:
            _keep(connection, event_id)


def _keep(connection: Any, event_id: uuid.UUID) -> None:
    row = connection.execute("SELECT match_epoch FROM events WHERE id = %s", (event_id,)).fetchone()
    cached = _events.get(event_id)
    if row is None:
        _events.pop(event_id, None)
    elif cached is None:
        (count,) = connection.execute(
            "SELECT count(*) FROM faces WHERE event_id = %s", (event_id,)
        ).fetchone() or (0,)
        kept = sum(event.faces for event in _events.values())
        if count < MIN_FACES or kept + count > settings.FACE_CACHE_MAX_FACES:
            _small[event_id] = time.time()  # too small, or no room: SQL scans it
            return
        started = time.perf_counter()
        block = _load(connection, event_id, -1, row[0])
        _events[event_id] = EventFaces(event_id, row[0], [block], time.time())
        log.info("face cache: %d faces of event %s loaded in %.1f s", len(block.ids),
                 event_id, time.perf_counter() - started)  # fmt: skip
    elif row[0] > cached.epoch:
        block = _load(connection, event_id, cached.epoch, row[0])
        if len(block.ids) > cached.faces // 2 and _read_again(block, cached) > cached.faces // 2:
            _events.pop(event_id)  # numbered again wholesale (a rebuild): read it afresh
            _keep(connection, event_id)
            return
        cached.blocks.append(block)
        cached.epoch = row[0]
        if len(cached.blocks) > MAX_BLOCKS:  # a block per refresh: merge the small ones
            first, *rest = cached.blocks
            cached.blocks = [first, _merge(rest)]
            if len(cached.blocks[1].ids) > len(first.ids) // 10:
                cached.blocks = [_merge(cached.blocks)]
    current = _events.get(event_id)
    if current is not None and time.time() - current.distances_read_at > DISTANCES_SECONDS:
        _read_distances(connection, current)


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
    ids, nearest, runner_up = connection.execute(
        "SELECT coalesce(string_agg(uuid_send(face_id), '' ORDER BY face_id), ''),"
        " coalesce(string_agg(float4send(distance::real), '' ORDER BY face_id), ''),"
        " coalesce(string_agg(float4send(coalesce(runner_up, 'Infinity')::real), ''"
        " ORDER BY face_id), '') FROM face_nearest WHERE event_id = %s",
        (cached.event_id,),
    ).fetchone()
    ids = np.frombuffer(ids, dtype="V16")
    columns = {
        "nearest": np.frombuffer(nearest, ">f4"),
        "runner_up": np.frombuffer(runner_up, ">f4"),
    }
    for block in cached.blocks:
        at = np.minimum(np.searchsorted(ids, block.ids), max(len(ids) - 1, 0))
        kept = (ids[at] == block.ids) if len(ids) else np.zeros(len(block.ids), dtype=bool)
        for name, values in columns.items():
            read = values[at] if len(ids) else np.inf
            setattr(block, name, np.where(kept, read, np.inf).astype(np.float32))
    cached.distances_read_at = time.time()
    log.info("face cache: distances of event %s read in %.2f s", cached.event_id,
             time.perf_counter() - started)  # fmt: skip


def _load(connection: Any, event_id: uuid.UUID, after_epoch: int, upto_epoch: int) -> Block:
    """Faces of the event's photos numbered in (after_epoch, upto_epoch]."""
    ids: list[bytes] = []
    parts: list[np.ndarray] = []
    nearest: list[float] = []
    runner_ups: list[float] = []
    with connection.cursor(name="face_cache") as cursor:  # streamed, BLOCK rows at a time
        cursor.execute(
            "SELECT f.id, f.encoding, coalesce(n.distance, 'Infinity'),"
            " coalesce(n.runner_up, 'Infinity')"
            " FROM faces f JOIN photos p ON p.id = f.photo_id"
            " LEFT JOIN face_nearest n ON n.face_id = f.id"
            " WHERE f.event_id = %s AND p.match_epoch > %s AND p.match_epoch <= %s",
            (event_id, after_epoch, upto_epoch),
        )
        while rows := cursor.fetchmany(BLOCK):
            ids += [row[0].bytes for row in rows]
            parts.append(np.stack([row[1].to_numpy() for row in rows]).astype(np.float32))
            nearest += [row[2] for row in rows]
            runner_ups += [row[3] for row in rows]
    matrix = np.concatenate(parts) if parts else np.zeros((0, 128), dtype=np.float32)
    return Block(
        np.array(ids, dtype="V16"),
        matrix,
        (matrix * matrix).sum(axis=1),
        np.array(nearest, dtype=np.float32),
        np.array(runner_ups, dtype=np.float32),
    )
