"""Request bodies: capped per route, refused unread from anonymous callers, and slow ones
cut off without holding a request slot. Driven at the ASGI level, so the test counts the
bytes the API itself pulled, not what the kernel buffered."""

from __future__ import annotations

import json
import uuid
from typing import Any

import anyio
import httpx
import pytest

from core.config import settings
from core.models import Role
from tests.helpers import create_user, session_token

GIB = 1024**3
CHUNK = 64 * 1024


class Body:
    """A client's body, handed to the app as it asks: `size` bytes, or hanging after `stall`."""

    def __init__(self, size: int, *, stall: int | None = None) -> None:
        self.size = size
        self.stall = stall
        self.pulled = 0

    async def receive(self) -> dict[str, Any]:
        if self.stall is not None and self.pulled >= self.stall:
            await anyio.sleep_forever()
        n = min(CHUNK if self.stall is None else self.stall, self.size - self.pulled)
        self.pulled += n
        return {"type": "http.request", "body": b"x" * n, "more_body": self.pulled < self.size}


async def _call(app: Any, method: str, path: str, body: Body, headers: dict[str, str]) -> dict:  # type: ignore[type-arg]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("198.51.100.7", 5000), "server": ("testserver", 80),
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }  # fmt: skip
    answer: dict[str, Any] = {"body": b""}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
            answer["headers"] = dict(message["headers"])
        else:
            answer["body"] += message.get("body", b"")

    await app(scope, body.receive, send)
    answer["json"] = json.loads(answer["body"]) if answer["body"] else None
    return answer


def _app() -> Any:
    from api.main import create_app

    return create_app()


@pytest.mark.parametrize("framing", ["chunked", "declared"])
def test_an_anonymous_gigabyte_is_refused_before_10_mb_are_read(clean: None, framing: str) -> None:
    """Without a length, refused as its bytes pass the route's cap; with one, unread."""
    body = Body(GIB)
    length = (
        {"transfer-encoding": "chunked"} if framing == "chunked" else {"content-length": str(GIB)}
    )
    headers = {"content-type": "application/json", **length}
    answer = anyio.run(_call, _app(), "POST", "/api/sign-in-link", body, headers)
    assert (answer["status"], answer["json"]["code"]) == (413, "body_too_large")
    assert answer["headers"][b"connection"] == b"close"
    assert body.pulled <= (settings.MAX_BODY_BYTES + CHUNK if framing == "chunked" else 0)
    assert body.pulled < 10 * 1024**2


@pytest.mark.parametrize("path", ["/api/upload-selfie", "/api/me/live-selfie"])
def test_an_anonymous_upload_is_refused_before_its_body_is_read(clean: None, path: str) -> None:
    body = Body(3 * 1024**2)
    headers = {"content-type": "multipart/form-data; boundary=x", "content-length": "3145728"}
    answer = anyio.run(_call, _app(), "POST", path, body, headers)
    assert (answer["status"], answer["json"]["code"], body.pulled) == (401, "not_authenticated", 0)
    forged = anyio.run(_call, _app(), "POST", path, body,
                       {**headers, "authorization": "Bearer not.a.token"})  # fmt: skip
    assert (forged["status"], forged["json"]["code"], body.pulled) == (401, "invalid_token", 0)


def test_a_photo_request_over_its_cap_is_refused_from_its_length(clean: None, session) -> None:  # type: ignore[no-untyped-def]
    user = create_user(session, role=Role.photographer)
    token = session_token(session, user)
    size = settings.MAX_UPLOAD_REQUEST_BYTES + 1
    body = Body(size)
    path = f"/api/events/{uuid.uuid4()}/photos"
    headers = {"authorization": f"Bearer {token}", "content-length": str(size),
               "content-type": "multipart/form-data; boundary=x"}  # fmt: skip
    answer = anyio.run(_call, _app(), "POST", path, body, headers)
    assert (answer["status"], answer["json"]["code"], body.pulled) == (413, "body_too_large", 0)


def test_slow_bodies_time_out_without_holding_the_slots(
    clean: None,
    session,  # type: ignore[no-untyped-def]
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Many clients dripping 4 bytes: each is answered 408 once idle, and meanwhile other
    requests and the readiness probe get through the one request slot there is."""
    monkeypatch.setattr(settings, "API_MAX_CONCURRENT_REQUESTS", 1)
    monkeypatch.setattr(settings, "BODY_IDLE_SECONDS", 1.0)
    monkeypatch.setattr(settings, "API_QUEUE_TIMEOUT_SECONDS", 0.5)
    app = _app()
    slow: list[dict] = []  # type: ignore[type-arg]
    fast: dict[str, int] = {}

    async def main() -> None:
        async def drip() -> None:
            slow.append(await _call(app, "POST", "/api/sign-in-link", Body(1000, stall=4),
                                    {"content-type": "application/json",
                                     "content-length": "1000"}))  # fmt: skip

        async with anyio.create_task_group() as tasks:
            for _ in range(20):
                tasks.start_soon(drip)
            await anyio.sleep(0.2)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                fast["readyz"] = (await client.get("/readyz")).status_code
                fast["page"] = (await client.get("/privacy")).status_code
                fast["json"] = (await client.post("/api/sign-in-link", json={})).status_code

    anyio.run(main)
    assert fast == {"readyz": 200, "page": 200, "json": 422}
    assert [(a["status"], a["json"]["code"]) for a in slow] == [(408, "body_too_slow")] * 20


def test_a_body_within_its_cap_reaches_the_route_whole(clean: None, session) -> None:  # type: ignore[no-untyped-def]
    """Replayed from the spool past 1 MiB: the route parses every byte."""
    user = create_user(session, role=Role.photographer)
    token = session_token(session, user)
    transport = httpx.ASGITransport(app=_app())

    async def main() -> httpx.Response:
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            return await client.post(
                "/api/events",
                headers={"Authorization": f"Bearer {token}"},
                json={"name": "A" * 100, "padding": "x" * 200_000},
            )

    response = anyio.run(main)
    assert response.status_code == 201, response.text
    assert response.json()["name"] == "A" * 100


def test_bodies_received_at_once_have_a_budget_that_bounds_tmp(
    clean: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Anonymous opt-outs (no account to ask for) cannot fill /tmp: past the process' spool
    budget a body is answered 503 with Retry-After, and its bytes are released."""
    monkeypatch.setattr(settings, "BODY_SPOOL_BYTES", 2 * 1024**2)
    app = _app()
    headers = {
        "content-type": "multipart/form-data; boundary=x",
        "content-length": str(3 * 1024**2),
    }
    body = Body(3 * 1024**2)
    answer = anyio.run(_call, app, "POST", "/api/opt-outs", body, headers)
    assert (answer["status"], answer["json"]["code"]) == (503, "overloaded")
    assert answer["headers"][b"retry-after"] == b"5" and body.pulled <= 2 * 1024**2 + CHUNK
    small = anyio.run(_call, app, "POST", "/api/opt-outs", Body(1024**2),
                      headers | {"content-length": str(1024**2)})  # fmt: skip
    assert small["status"] == 400, "the budget was given back: a smaller body reaches the route"


def test_an_attendee_cannot_send_a_photo_upload_body(clean: None, session) -> None:  # type: ignore[no-untyped-def]
    """A signed-in attendee is refused by the token's role before the 64 MiB are read."""
    user = create_user(session, role=Role.attendee)
    token = session_token(session, user)
    body = Body(3 * 1024**2)
    headers = {"authorization": f"Bearer {token}", "content-length": str(3 * 1024**2),
               "content-type": "multipart/form-data; boundary=x"}  # fmt: skip
    answer = anyio.run(_call, _app(), "POST", f"/api/events/{uuid.uuid4()}/photos", body, headers)
    assert (answer["status"], answer["json"]["code"], body.pulled) == (403, "role_required", 0)
