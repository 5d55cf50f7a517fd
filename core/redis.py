"""The process's Redis client. A module that needs Redis imports this, not the job queue."""

from __future__ import annotations

from functools import cache

from redis import Redis

from core.config import settings
from core.process import on_role_change, process_role


@cache
def get_redis() -> Redis:
    """The process's Redis client; short timeouts so an outage fails fast instead of hanging."""
    return Redis.from_url(
        settings.redis_url,
        socket_connect_timeout=1,
        socket_timeout=3,
        health_check_interval=30,
        client_name=process_role(),
    )


on_role_change(get_redis.cache_clear)
