"""`/metrics` for Prometheus: this process's request metrics and the fleet's from Redis."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from api.errors import NotFound, Unauthorized
from core.config import settings

router = APIRouter(tags=["monitoring"])


@router.get("/metrics", include_in_schema=False)
def read_metrics(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Response:
    """Prometheus metrics; with FACEMATCH_METRICS_TOKEN set, only for that bearer token. In
    cluster mode there are none without a token: the Ingress would publish them."""
    token = settings.METRICS_TOKEN
    if not token and settings.MODE != "local":
        raise NotFound("metrics are off: set a scrape token (the chart's metrics.tokenSecretKey)",
                       code="metrics_off")  # fmt: skip
    if token and not hmac.compare_digest(authorization or "", f"Bearer {token}"):
        raise Unauthorized("metrics need the scrape token", code="metrics_token_required")
    return Response(request.app.state.metrics.render(), media_type=CONTENT_TYPE_LATEST)
