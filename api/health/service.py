from __future__ import annotations

from api.health import repository
from core.redis import get_redis


def readiness() -> dict[str, str]:
    """Each backing service: "ok", or why it is unavailable."""
    checks: dict[str, str] = {}
    try:
        repository.ping_database()
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}"
    try:
        get_redis().ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"unavailable: {type(exc).__name__}"
    return checks
