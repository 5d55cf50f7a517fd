"""A throwaway local stack for benchmarks and load tests.

`facematch-dev up` with its own data folder, port and admin, so it never touches
a `make dev` stack; stopped and deleted on exit.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devtools import devstack
from devtools.local import free_port, stop_group


@dataclass(frozen=True)
class Stack:
    base: str
    admin_email: str
    admin_password: str
    pid: int
    """The supervisor's pid: API and workers are its children."""
    data_dir: Path
    """Holds `postgres.url` and `valkey.url` of the embedded servers."""
    restarted: list[subprocess.Popen[bytes]] = field(default_factory=list)
    """Servers a fault test restarted outside the supervisor: they stop with the stack."""


def wait_ready(url: str, timeout: float = 120) -> None:
    if not devstack.wait_ready(url, timeout):
        raise SystemExit(f"the stack did not become ready at {url}")


@contextmanager
def local_stack(
    workers: int, *, quiet: bool = True, env: dict[str, str] | None = None
) -> Iterator[Stack]:
    data_dir = Path(tempfile.mkdtemp(prefix="facematch-bench-"))
    port = free_port()
    email, password = "bench-admin@example.com", secrets.token_urlsafe(16)
    extra = env or {}
    env = dict(
        os.environ,
        FACEMATCH_DATA_DIR=str(data_dir),
        FACEMATCH_ADMIN_EMAIL=email,
        FACEMATCH_ADMIN_PASSWORD=password,
        # Every simulated user comes from 127.0.0.1: per-address limits would throttle the test.
        FACEMATCH_LOGIN_ATTEMPTS_PER_MINUTE_PER_IP="0",
        FACEMATCH_REGISTRATIONS_PER_MINUTE_PER_IP="0",
        FACEMATCH_LINK_REDEMPTIONS_PER_MINUTE_PER_IP="0",
        FACEMATCH_SIGN_IN_LINKS_PER_HOUR_PER_ACCOUNT="0",
        PORT=str(port),
        WORKERS=str(workers),
    )
    env.update(extra)
    output = subprocess.DEVNULL if quiet else None
    argv = [sys.executable, "-m", "devtools.cli", "up", "--port", str(port)]
    supervisor = subprocess.Popen(
        [*argv, "--workers", str(workers)],
        env=env,
        stdout=output,
        stderr=output,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    stack = Stack(
        base=base,
        admin_email=email,
        admin_password=password,
        pid=supervisor.pid,
        data_dir=data_dir,
    )
    try:
        wait_ready(f"{base}/readyz")
        yield stack
    finally:
        stop_group(supervisor, signal.SIGINT, timeout=60)
        for server in stack.restarted:
            stop_group(server, timeout=10)
        shutil.rmtree(data_dir, ignore_errors=True)


def join_event(
    post: Callable[..., Any], base: str, code: str, email: str, admin: dict[str, str],
    name: str = "Runner",
) -> dict[str, str]:  # fmt: skip
    """Join an event as an attendee of a load test does: register with consent (the
    workers mail the link), get the link from the admins' support route (a simulated
    attendee has no mailbox) and open it. `post` is a requests or httpx client's; the
    attendee's auth headers."""

    def call(path: str, **kwargs: Any) -> Any:
        response = post(f"{base}{path}", timeout=60, **kwargs)
        response.raise_for_status()
        return response.json()

    call("/api/register-with-event-code",
         json={"event_code": code, "email": email, "name": name, "consent": True})  # fmt: skip
    link = call("/api/admin/sign-in-links", headers=admin,
                json={"email": email, "event_code": code})  # fmt: skip
    opened = call("/api/sign-in-link/redeem", json={"token": link["url"].split("#", 1)[1]})
    return {"Authorization": f"Bearer {opened['access_token']}"}
