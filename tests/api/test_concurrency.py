from __future__ import annotations

import anyio
import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.concurrency import ConcurrencyLimit


def _app(release: anyio.Event, *, limit: int, queue_timeout: float) -> ConcurrencyLimit:
    async def slow(_: Request) -> JSONResponse:
        await release.wait()
        return JSONResponse({"ok": True})

    async def healthz(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    inner = Starlette(routes=[Route("/slow", slow), Route("/healthz", healthz)])
    return ConcurrencyLimit(inner, limit=limit, queue_timeout=queue_timeout)


def test_requests_over_the_limit_wait_then_get_a_503_while_liveness_still_answers() -> None:
    statuses: dict[str, int] = {}

    async def main() -> None:
        release = anyio.Event()
        app = _app(release, limit=1, queue_timeout=0.3)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

            async def call(name: str, path: str) -> None:
                response = await client.get(path)
                statuses[name] = response.status_code
                if response.status_code == 503:
                    statuses["retry_after"] = int(response.headers["retry-after"])
                    statuses["code_is_overloaded"] = response.json()["code"] == "overloaded"

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(call, "first", "/slow")
                await anyio.sleep(0.05)
                tasks.start_soon(call, "second", "/slow")
                await call("healthz", "/healthz")
                await anyio.sleep(0.5)  # past the second's queue timeout
                release.set()

    anyio.run(main)

    assert statuses == {"first": 200, "second": 503, "healthz": 200, "retry_after": 2,
                        "code_is_overloaded": True}  # fmt: skip


def test_a_waiting_request_gets_in_when_a_slot_frees() -> None:
    statuses: list[int] = []

    async def main() -> None:
        release = anyio.Event()
        app = _app(release, limit=1, queue_timeout=5)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:

            async def call() -> None:
                statuses.append((await client.get("/slow")).status_code)

            async with anyio.create_task_group() as tasks:
                tasks.start_soon(call)
                tasks.start_soon(call)
                await anyio.sleep(0.2)
                release.set()

    anyio.run(main)

    assert statuses == [200, 200]


def test_a_streamed_answer_gives_its_slot_back_once_it_starts() -> None:
    """A zip of thousands of photos streams for hours on a slow phone; it holds no thread
    or database connection, so it must not hold one of the few slots either."""
    from starlette.responses import StreamingResponse

    statuses: dict[str, int] = {}

    async def main() -> None:
        release = anyio.Event()

        async def stream(_: Request) -> StreamingResponse:
            async def chunks():  # type: ignore[no-untyped-def]
                yield b"first"
                await release.wait()
                yield b"last"

            return StreamingResponse(chunks())

        async def quick(_: Request) -> JSONResponse:
            return JSONResponse({"ok": True})

        inner = Starlette(routes=[Route("/zip", stream), Route("/quick", quick)])
        app = ConcurrencyLimit(inner, limit=1, queue_timeout=0.5)
        started = anyio.Event()

        async def receive() -> dict:  # type: ignore[type-arg]
            await anyio.sleep_forever()
            return {}

        async def send(message: dict) -> None:  # type: ignore[type-arg]
            if message["type"] == "http.response.start":
                statuses["zip"] = message["status"]
                started.set()

        scope = {"type": "http", "method": "GET", "path": "/zip", "headers": [],
                 "query_string": b"", "root_path": ""}  # fmt: skip
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(app, scope, receive, send)
            await started.wait()
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                statuses["quick"] = (await client.get("/quick")).status_code
            release.set()

    anyio.run(main)
    assert statuses == {"zip": 200, "quick": 200}
