"""Request bodies: capped per route, refused unread from anonymous callers where a route
needs one, and received whole, at a minimum pace, before the request takes a slot.

The route's handler sees the same body, replayed from a spool (memory up to 1 MiB, then
/tmp). So a slow client holds a socket and a spool, never one of the few request slots
that bound threads and database connections (`api/concurrency.py`), and a body over its
route's cap is answered 413 as soon as its Content-Length says so, or as its bytes pass
the cap, without reading the rest.

Two bounds per process keep the pod whole: the bodies being received together hold at
most BODY_SPOOL_BYTES (then 503, retry shortly), which bounds /tmp; and at most
UPLOAD_CONCURRENCY requests with a body over 1 MiB are inside the app at once, since
each holds its files in memory while it checks and stores them.
"""

from __future__ import annotations

import json
import re
import tempfile
import time
from dataclasses import dataclass

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.auth.security import decode_access_token
from api.errors import AppError, NotPermitted, Unauthorized
from core.config import Settings
from core.models import Role

MULTIPART_OVERHEAD = 64 * 1024
"""Boundaries, part headers and small form fields around a file's bytes."""
SPOOL_IN_MEMORY = 1024 * 1024
LOGO_MAX_BYTES = 2 * 1024 * 1024
"""The largest logo file an event takes (api/branding/)."""
REPLAY_CHUNK = 256 * 1024


@dataclass(frozen=True)
class BodyRule:
    method: str
    path: re.Pattern[str]
    limit: int
    caller: bool
    """The route needs a signed-in caller: a body without a valid token is never read."""
    roles: frozenset[Role] = frozenset(Role)
    """...in one of these roles (the token says): another's body is never read either."""


def body_rules(settings: Settings) -> list[BodyRule]:
    """The routes that take more than a JSON body; every other route gets MAX_BODY_BYTES."""
    frames = 4 * settings.MAX_LIVE_FRAME_BYTES + MULTIPART_OVERHEAD

    def rule(path: str, limit: int, *, caller: bool = True, roles: set[Role] | None = None,
             method: str = "POST") -> BodyRule:  # fmt: skip
        return BodyRule(method, re.compile(path), limit, caller, frozenset(roles or Role))

    staff = {Role.photographer, Role.admin}
    return [
        rule(r"/api/events/[^/]+/photos", settings.MAX_UPLOAD_REQUEST_BYTES, roles=staff),
        rule(r"/api/upload-selfie", settings.MAX_SELFIE_BYTES + MULTIPART_OVERHEAD),
        rule(
            r"/api/events/[^/]+/logo",
            LOGO_MAX_BYTES + MULTIPART_OVERHEAD,
            roles=staff,
            method="PUT",
        ),
        rule(r"/api/me/live-selfie", frames),
        rule(r"/api/opt-outs", frames, caller=False),  # no account: its challenge is the key
    ]


class BodyGate:
    def __init__(self, app: ASGIApp, *, settings: Settings) -> None:
        self.app = app
        self.rules = body_rules(settings)
        self.default_limit = settings.MAX_BODY_BYTES
        self.idle = settings.BODY_IDLE_SECONDS
        self.min_rate = settings.BODY_MIN_BYTES_PER_SECOND
        self.spool_budget = settings.BODY_SPOOL_BYTES
        self.spooled = 0
        self.upload_concurrency = settings.UPLOAD_CONCURRENCY
        self._uploads: anyio.Semaphore | None = None

    def _rule(self, scope: Scope) -> BodyRule | None:
        for rule in self.rules:
            if scope["method"] == rule.method and rule.path.fullmatch(scope["path"]):
                return rule
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length_header = headers.get(b"content-length")
        chunked = b"chunked" in headers.get(b"transfer-encoding", b"").lower()
        if length_header is None and not chunked:  # no body at all
            await self.app(scope, receive, send)
            return
        rule = self._rule(scope)
        limit = rule.limit if rule else self.default_limit
        if rule and rule.caller:
            refusal = _unauthorised(headers.get(b"authorization", b""), rule.roles)
            if isinstance(refusal, NotPermitted):
                await _refuse(send, 403, "NotPermitted", refusal.detail, refusal.code or "")
                return
            if refusal is not None:
                await _refuse(send, 401, "Unauthorized", refusal.detail, refusal.code or "",
                              {b"www-authenticate": b"Bearer"})  # fmt: skip
                return
        if length_header is not None:
            try:
                length = int(length_header)
            except ValueError:
                await _refuse(send, 400, "BadRequest", "the Content-Length is not a number",
                              "bad_content_length")  # fmt: skip
                return
            if length > limit:
                await _too_large(send, limit)
                return
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY)  # noqa: SIM115
        received = [0]
        try:
            outcome = await self._receive_all(receive, spool, limit, received)
            if outcome == "too_large":
                await _too_large(send, limit)
                return
            if outcome == "busy":
                await _refuse(send, 503, "ServiceUnavailable",
                              "the API is receiving too many uploads, retry shortly", "overloaded",
                              {b"retry-after": b"5"})  # fmt: skip
                return
            if outcome == "too_slow":
                await _refuse(send, 408, "RequestTimeout",
                              "the request body came too slowly; send it again",
                              "body_too_slow")  # fmt: skip
                return
            if outcome == "disconnected":
                return
            spool.seek(0)
            if received[0] <= SPOOL_IN_MEMORY:
                await self.app(scope, _replay(spool, receive), send)
                return
            if self._uploads is None:  # created inside the running event loop
                self._uploads = anyio.Semaphore(self.upload_concurrency)
            async with self._uploads:
                await self.app(scope, _replay(spool, receive), send)
        finally:
            self.spooled -= received[0]
            spool.close()

    async def _receive_all(self, receive: Receive, spool: tempfile.SpooledTemporaryFile[bytes],
                           limit: int, received: list[int]) -> str:  # fmt: skip
        """Reads the body into the spool, counting it in `received[0]` (and in the process'
        total): "done", "too_large", "busy", "too_slow" or "disconnected"."""
        started = time.monotonic()
        while True:
            with anyio.move_on_after(self.idle) as idle:
                message = await receive()
            if idle.cancelled_caught:
                return "too_slow"
            if message["type"] == "http.disconnect":
                return "disconnected"
            chunk = message.get("body", b"")
            if received[0] + len(chunk) > limit:
                return "too_large"
            if self.spooled + len(chunk) > self.spool_budget:
                return "busy"
            received[0] += len(chunk)
            self.spooled += len(chunk)
            spool.write(chunk)  # to the page cache past 1 MiB: no wait worth a thread
            if not message.get("more_body", False):
                return "done"
            elapsed = time.monotonic() - started
            if elapsed > self.idle and received[0] < self.min_rate * elapsed:
                return "too_slow"


def _replay(spool: tempfile.SpooledTemporaryFile[bytes], receive: Receive) -> Receive:
    """The body again, from the spool, then the client's own messages (its disconnect)."""
    done = False

    async def replay() -> Message:
        nonlocal done
        if done:
            return await receive()
        chunk = spool.read(REPLAY_CHUNK)
        more = len(chunk) == REPLAY_CHUNK
        if not more:
            done = True
        return {"type": "http.request", "body": chunk, "more_body": more}

    return replay


def _unauthorised(authorization: bytes, roles: frozenset[Role]) -> AppError | None:
    """Why the caller may not send this body, by the token alone (no database); None if it
    may. The route's own dependencies then check the session, as for any request."""
    scheme, _, token = authorization.decode("latin-1").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return Unauthorized("not authenticated", code="not_authenticated")
    try:
        claims = decode_access_token(token.strip())
    except Unauthorized as refusal:
        return refusal
    if claims.role not in roles:
        return NotPermitted("photographers and admins only", code="role_required")
    return None


async def _too_large(send: Send, limit: int) -> None:
    await _refuse(send, 413, "PayloadTooLarge",
                  f"the request body is over this route's limit of {limit} bytes",
                  "body_too_large")  # fmt: skip


async def _refuse(send: Send, status: int, error: str, detail: object, code: str,
                  extra: dict[bytes, bytes] | None = None) -> None:  # fmt: skip
    """An answer before the body was read: the connection closes, so nothing more of the
    body is read to keep it alive."""
    body = json.dumps({"error": error, "detail": detail, "code": code}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *(extra or {}).items(),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
