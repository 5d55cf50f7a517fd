"""At most N requests inside the app at once; the rest wait on the event loop, not in threads.

A request holds its database connection across several thread-pool hops (sync
dependencies, then the endpoint). With as many requests in flight as threads
or connections, every thread can end up waiting for a connection held by a
request that is itself waiting for a thread: each waits pool_timeout and fails.
Admitting fewer requests than either limit makes that impossible; the queue in
front costs no thread and no connection, and a request that waits too long
gets a 503 with Retry-After instead of hanging.
"""

from __future__ import annotations

import json

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

UNLIMITED_PATHS = frozenset({"/healthz", "/readyz"})
"""Probes must answer even when the API is saturated: a pod busy with requests is not dead,
and taking it out of the Service would only move its load to the others."""


class ConcurrencyLimit:
    def __init__(self, app: ASGIApp, *, limit: int, queue_timeout: float) -> None:
        self.app = app
        self.limit = limit
        self.queue_timeout = queue_timeout
        self._slots: anyio.Semaphore | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNLIMITED_PATHS:
            await self.app(scope, receive, send)
            return
        if self._slots is None:  # created inside the running event loop
            self._slots = anyio.Semaphore(self.limit)
        with anyio.move_on_after(self.queue_timeout) as waited:
            await self._slots.acquire()
        if waited.cancelled_caught:
            await _overloaded(send)
            return
        slots = self._slots
        held = True

        def release() -> None:
            nonlocal held
            if held:
                held = False
                slots.release()

        async def send_then_release(message: Message) -> None:
            # A streamed answer (a zip of thousands of photos) holds no thread or database
            # connection once it starts: its slot goes back then, not hours later.
            if message["type"] == "http.response.start":
                release()
            await send(message)

        try:
            await self.app(scope, receive, send_then_release)
        finally:
            release()


async def _overloaded(send: Send) -> None:
    body = json.dumps(
        {
            "error": "ServiceUnavailable",
            "detail": "the API is at capacity, retry shortly",
            "code": "overloaded",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", b"2"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
