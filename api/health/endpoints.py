from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.errors import ServiceUnavailable, responses
from core.db import get_engine
from core.redis import get_redis

router = APIRouter(tags=["health"])


@router.get("/healthz")
def read_liveness() -> dict[str, str]:
    """Liveness: the process answers. Touches nothing else."""
    return {"status": "ok"}


@router.get("/readyz", responses=responses(ServiceUnavailable))
def read_readiness() -> JSONResponse:
    """Readiness: the database and Redis both answer."""
    checks: dict[str, str] = {}
    try:
        with get_engine().connect() as connection:
            connection.execute(text("SELECT 1"))
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"unavailable: {type(exc).__name__}"
    try:
        get_redis().ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"unavailable: {type(exc).__name__}"
    ready = all(v == "ok" for v in checks.values())
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    if not ready:
        body.update(error="ServiceUnavailable", detail="a backing service is unavailable")
    return JSONResponse(body, status_code=200 if ready else 503)
