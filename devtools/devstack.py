"""`facematch-dev up`: the whole platform on one machine, in the foreground.

Starts embedded PostgreSQL and Valkey (unless external URLs are set), runs the
migrations, makes sure an admin exists, then supervises the API, N worker
processes and the reconciler. Ctrl-C stops everything it started.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field

from rich.console import Console

from core.config import settings
from devtools.local import die_with_parent

console = Console()

RESTART_WINDOW_SECONDS = 60
"""A child that dies more than MAX_RESTARTS times in this window is not restarted."""
MAX_RESTARTS = 5
KEEP_ALIVE_SECONDS = 65
"""Longer than clients' and load balancers' idle timeouts (60 s is common): a server that
closes first races the client's next request on that connection (a reset, seen in Locust)."""
SHUTDOWN_GRACE_SECONDS = 30
"""How long workers get to finish their current job on Ctrl-C."""


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    nice: int = 0
    process: subprocess.Popen[bytes] | None = None
    restarts: list[float] = field(default_factory=list)

    def start(self) -> None:
        # Own process group: Ctrl-C reaches the supervisor, which stops children in order.
        self.process = subprocess.Popen(
            self.argv, env=self.env, start_new_session=True, preexec_fn=self._prepare
        )

    def _prepare(self) -> None:
        die_with_parent()
        if self.nice:
            os.nice(self.nice)

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def ensure_admin() -> tuple[str, str]:
    """Make sure an admin can sign in; (email, where the password is) for the banner."""
    from sqlmodel import select

    from api.users.schemas import UserCreate
    from api.users.service import create_user
    from core.db import session_scope
    from core.models import Role, User

    email, password = settings.ADMIN_EMAIL, settings.ADMIN_PASSWORD
    with session_scope() as session:
        if email and password:
            if session.exec(select(User).where(User.email == email.lower())).first() is None:
                create_user(session, UserCreate(email=email, password=password, role=Role.admin))
            return email, "FACEMATCH_ADMIN_PASSWORD"
        existing = session.exec(select(User).where(User.role == Role.admin)).first()
        if existing is not None:
            return existing.email, _credentials_hint()
        email, password = "admin@facematch.example.com", secrets.token_urlsafe(12)
        create_user(session, UserCreate(email=email, password=password, role=Role.admin))
    credentials = settings.DATA_DIR / "admin-credentials.txt"
    credentials.write_text(f"{email}\n{password}\n")
    credentials.chmod(0o600)
    return email, password


def _credentials_hint() -> str:
    """The password of an admin made by an earlier run, if that run kept it."""
    credentials = settings.DATA_DIR / "admin-credentials.txt"
    try:
        return credentials.read_text().splitlines()[1]
    except (OSError, IndexError):
        return "(set when that admin was made; `facematch create-user --role admin` adds one)"


def wait_ready(url: str, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return True
        except OSError:
            pass
        time.sleep(0.3)
    return False


def run(*, host: str, port: int, workers: int) -> None:
    from core.migrate import run_migrations
    from devtools import local

    # Explicit handlers: a shell that started us in the background may have set SIGINT to ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    data_dir = settings.DATA_DIR.resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    services = None
    env = dict(os.environ)
    if not (settings.DATABASE_URL and settings.REDIS_URL):
        console.print(f"starting embedded PostgreSQL and Valkey in {data_dir} ...")
        services = local.start(data_dir)
        env["FACEMATCH_DATABASE_URL"] = settings.DATABASE_URL or services.database_url
        env["FACEMATCH_REDIS_URL"] = settings.REDIS_URL or services.redis_url
    catcher = None
    if not settings.SMTP_HOST:  # every mail of the stack lands on /dev/mail
        from devtools.mailcatcher import start_mail_catcher

        catcher = start_mail_catcher(data_dir)
    env["FACEMATCH_DATA_DIR"] = str(data_dir)
    env.setdefault("FACEMATCH_PUBLIC_URL", f"http://{host}:{port}")
    # Heartbeats in the stack's folder: two stacks on one machine keep theirs apart.
    env.setdefault("FACEMATCH_HEARTBEAT_FILE", str(data_dir / "worker-heartbeat"))
    env.setdefault("FACEMATCH_RECONCILER_HEARTBEAT_FILE", str(data_dir / "reconciler-heartbeat"))
    env.setdefault("FACEMATCH_LOG_FORMAT", "text")  # a terminal, not a log collector
    env.setdefault("FACEMATCH_ACCESS_LOG_LEVEL", "WARNING")  # a line per request buries the rest
    env.setdefault("FACEMATCH_LIBRARY_LOG_LEVEL", "WARNING")  # uvicorn's and RQ's start-up chatter
    # As in the API image: with one malloc arena per thread, argon2's 19 MiB blocks pile up.
    env.setdefault("MALLOC_ARENA_MAX", "2")
    os.environ.update(env)

    children: list[Child] = []
    try:
        run_migrations()
        admin_email, admin_password = ensure_admin()
        children.append(
            Child(
                "api",
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "api.main:app",
                    "--host",
                    host,
                    "--port",
                    str(port),
                    "--workers",
                    str(settings.API_PROCESSES),
                    "--timeout-keep-alive",
                    str(KEEP_ALIVE_SECONDS),
                    "--no-access-log",
                    "--no-proxy-headers",  # the app believes only FACEMATCH_TRUSTED_PROXIES
                ],
                env,
            )
        )
        children += [
            Child(f"worker-{i + 1}", [sys.executable, "-m", "workers"], env, settings.WORKER_NICE)
            for i in range(workers)
        ]
        # As the chart's reconciler Deployment: its own process, beside the API.
        reconciler = [sys.executable, "-m", "api.cli", "reconcile", "--forever"]
        children.append(Child("reconciler", reconciler, env))
        for child in children:
            child.start()
        if not wait_ready(f"http://{host}:{port}/readyz"):
            console.print("[red]the API did not become ready; see its output above[/]")
        base = f"http://{host}:{port}"
        banner = (
            f"\nfacematch is up with {workers} worker(s) and the reconciler\n"
            f"  web app    {base}/\n"
            f"  sign in    {base}/login\n"
            f"  admin      {admin_email}\n"
            f"  password   {admin_password}\n"
            f"  API docs   {base}/docs\n"
            + (f"  mail       {base}/dev/mail (every mail the stack sends)\n" if catcher else "")
            + f"  data       {data_dir}\n"
            "Ctrl-C stops everything.\n"
        )
        # Plain print: no wrapping, so the password is one piece whatever the terminal's width.
        print(banner, flush=True)
        _supervise(children)
    except KeyboardInterrupt:
        pass
    finally:
        console.print("stopping ...")
        _stop(children)
        if services is not None:
            services.stop()
        if catcher is not None:
            catcher.stop()
        console.print("stopped.")


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _supervise(children: list[Child]) -> None:
    while True:
        time.sleep(1)
        for child in children:
            if child.alive():
                continue
            now = time.monotonic()
            child.restarts = [t for t in child.restarts if now - t < RESTART_WINDOW_SECONDS]
            if len(child.restarts) >= MAX_RESTARTS:
                raise SystemExit(f"{child.name} keeps dying; stopping the stack")
            code = child.process.returncode if child.process else None
            console.print(f"[yellow]{child.name} exited ({code}); restarting[/]")
            child.restarts.append(now)
            child.start()


def _stop(children: list[Child]) -> None:
    for child in children:
        if child.alive() and child.process is not None:
            child.process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + SHUTDOWN_GRACE_SECONDS
    for child in children:
        if child.process is None:
            continue
        try:
            child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.process.kill()
            child.process.wait()
