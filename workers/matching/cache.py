"""The skeleton both in-memory caches share (face_cache.py, selfie_cache.py).

Each keeps some events' rows as float32 matrices in the worker's main process, for the
events some kind of job touched lately ("hot", told through Redis to every worker). The
main process refreshes them between jobs, at most every `refresh_seconds`, on a
connection of its own that is closed before any fork, and each work horse reads them
without copying. What each cache reads, and when an event is worth keeping, is its own.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Generic, TypeVar

import psycopg
from pgvector.psycopg import register_vector


class HotEvents:
    """A Redis sorted set of event ids, each scored with when it was last touched."""

    def __init__(self, key: str, seconds: float) -> None:
        self.key = key
        self.seconds = seconds
        """An event touched within this long is hot."""

    def mark(self, redis: Any, event_id: uuid.UUID) -> None:
        redis.zadd(self.key, {str(event_id): time.time()})

    def read(self, redis: Any, now: float) -> set[uuid.UUID]:
        return {
            uuid.UUID(e.decode()) for e in redis.zrangebyscore(self.key, now - self.seconds, "+inf")
        }

    def forget(self, redis: Any, event_id: uuid.UUID) -> None:
        """The event is gone: workers let it go at their next refresh."""
        redis.zrem(self.key, str(event_id))


Kept = TypeVar("Kept")


class EventCache(Generic[Kept]):
    """Events' matrices by event id, refreshed from the hot set."""

    refresh_seconds = 5.0
    """At most one refresh (one database connection) this often."""
    snapshot = False
    """Read each refresh in one REPEATABLE READ snapshot."""

    def __init__(self, hot: HotEvents) -> None:
        self.hot = hot
        self.events: dict[uuid.UUID, Kept] = {}
        self.refreshed_at = 0.0

    def capacity(self) -> int:
        """How many rows a worker may keep (its setting); 0 turns the cache off."""
        raise NotImplementedError

    def wanted(self, hot: set[uuid.UUID], now: float) -> list[uuid.UUID]:
        """The hot events to load or bring up to date on this refresh."""
        return sorted(hot)

    def load(self, connection: Any, event_id: uuid.UUID, redis: Any) -> None:
        """Load the event, or add what was numbered since it was read."""
        raise NotImplementedError

    def get(self, event_id: uuid.UUID) -> Kept | None:
        return self.events.get(event_id)

    def mark_hot(self, redis: Any, event_id: uuid.UUID) -> None:
        self.hot.mark(redis, event_id)

    def refresh(self, url: str, redis: Any) -> None:
        """In the worker's main process, between jobs: load the hot events, add what was
        numbered since, drop events no longer hot. Called after every job: a connection
        each time would be work on the hot path, and whatever was numbered since the last
        refresh is found in SQL anyway."""
        now = time.time()
        if self.capacity() == 0 or now - self.refreshed_at < self.refresh_seconds:
            return
        self.refreshed_at = now
        hot = self.hot.read(redis, now)
        for gone in set(self.events) - hot:
            del self.events[gone]
        wanted = self.wanted(hot, now)
        if wanted:
            self.keep(url, wanted, redis)

    def keep(self, url: str, event_ids: list[uuid.UUID], redis: Any = None) -> None:
        """Load these events, or bring them up to date, on a connection of its own."""
        dsn = url.replace("postgresql+psycopg://", "postgresql://", 1)
        with psycopg.connect(dsn) as connection:
            if self.snapshot:
                connection.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            register_vector(connection)
            for event_id in event_ids:
                self.load(connection, event_id, redis)
