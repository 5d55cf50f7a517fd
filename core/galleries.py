"""The accesses to an event's browse-all gallery (api/galleries): each token a password
gave lives in Redis under its event, so a new link, turning the gallery off or deleting
the event removes every one at once, and none outlives its event."""

from __future__ import annotations

import hashlib
import uuid

from redis import Redis

_PREFIX = "gallery-access"


def access_key(event_id: uuid.UUID, access: str) -> str:
    """Where an access token's grant lives: the token itself is never stored."""
    return f"{_PREFIX}:{event_id}:{hashlib.sha256(access.encode()).hexdigest()}"


def revoke_all(redis: Redis, event_id: uuid.UUID) -> int:
    """Remove every access to the event's gallery; how many there were."""
    keys = list(redis.scan_iter(match=f"{_PREFIX}:{event_id}:*", count=1000))
    return int(redis.delete(*keys)) if keys else 0
