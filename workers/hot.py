"""Events some kind of job touched lately, shared by every worker through Redis: the
in-memory caches (workers/face_cache.py, workers/selfie_cache.py) keep those events."""

from __future__ import annotations

import time
import uuid
from typing import Any


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
