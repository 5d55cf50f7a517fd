"""The request's context: its id, its access-log line and its metrics (the API only).

Logging and metrics stay free of Starlette, so the worker can import them.
"""

from __future__ import annotations

import logging
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from core.logs import ACCESS_LOGGER, SAFE_ID, request_id
from core.metrics import Metrics

access_log = logging.getLogger(ACCESS_LOGGER)


SECRET_PARAMS = frozenset({"token"})
"""Path parameters that are secrets (an unsubscribe link's token): never logged."""


def logged_path(scope: Scope) -> str:
    """The path, with each secret path parameter replaced by [redacted]."""
    path: str = scope["path"]
    for name, value in (scope.get("path_params") or {}).items():
        if name in SECRET_PARAMS and value:
            path = path.replace(str(value), "[redacted]")
    return path


class RequestContext:
    """Gives each request an id (echoed as X-Request-ID); when it ends, logs one line
    and hands its status and duration to the metrics.

    The line has the route's path without its query string, and with secret path
    parameters redacted, so no token or search term in a URL is logged.
    """

    def __init__(self, app: ASGIApp, *, metrics: Metrics | None = None) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        sent = dict(scope.get("headers") or []).get(b"x-request-id", b"").decode("latin-1")
        rid = sent if SAFE_ID.match(sent) else uuid.uuid4().hex
        token = request_id.set(rid)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (b"x-request-id", rid.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            if self.metrics is not None:
                self.metrics.observe(scope, status, time.perf_counter() - started)
            if scope["path"] not in ("/healthz", "/readyz"):
                path = logged_path(scope)
                access_log.log(
                    logging.WARNING if status >= 500 else logging.INFO,
                    "%s %s %d",
                    scope["method"],
                    path,
                    status,
                    extra={
                        "method": scope["method"],
                        "path": path,
                        "status": status,
                        "duration_ms": round(1000 * (time.perf_counter() - started), 1),
                    },
                )
            request_id.reset(token)
