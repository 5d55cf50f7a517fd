from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from api.errors import ServiceUnavailable, responses
from api.health import service

router = APIRouter(tags=["health"])


@router.get("/healthz")
def read_liveness() -> dict[str, str]:
    """Liveness: the process answers. Touches nothing else."""
    return {"status": "ok"}


@router.get("/readyz", responses=responses(ServiceUnavailable))
def read_readiness() -> JSONResponse:
    """Readiness: the database and Redis both answer."""
    checks = service.readiness()
    ready = all(v == "ok" for v in checks.values())
    body = {"status": "ok" if ready else "unavailable", "checks": checks}
    if not ready:
        body.update(error="ServiceUnavailable", detail="a backing service is unavailable")
    return JSONResponse(body, status_code=200 if ready else 503)
