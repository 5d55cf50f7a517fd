"""Session fixtures: embedded PostgreSQL and Valkey, started once, migrated once.

Jobs run in real worker code that opens its own connections, so a test cannot
hide inside one rolled-back transaction; instead every test that touches the
services starts from empty tables, an empty Redis and an empty storage folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

# Before anything imports core.config: this run's own data folder.
_DATA_DIR = Path(tempfile.mkdtemp(prefix="facematch-test-"))
os.environ["FACEMATCH_DATA_DIR"] = str(_DATA_DIR)
os.environ["FACEMATCH_MODE"] = "local"
for _var in ("FACEMATCH_DATABASE_URL", "FACEMATCH_REDIS_URL", "FACEMATCH_STORAGE_ROOT"):
    os.environ.pop(_var, None)

import pytest  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from redis import Redis  # noqa: E402
from sqlalchemy import text  # noqa: E402
from sqlmodel import Session  # noqa: E402

from tests.helpers import FACES  # noqa: E402

TABLES = (
    "audit_log, match_rejections, face_nearest, matches, selfies, faces, photos, attendees,"
    " events, users, emails, sign_in_links, auth_sessions, password_resets, forgets_owed,"
    " tolerance_previews, face_opt_outs"
)


@pytest.fixture(scope="session")
def services() -> Iterator[Path]:
    from core.migrate import run_migrations
    from devtools import local

    postgres, database_url = local.start_postgres(_DATA_DIR, cleanup_mode="delete")
    valkey, redis_url = local.start_valkey(_DATA_DIR, persist=False)
    # A real SMTP server (aiosmtpd, as `make dev` runs): tests read what it received.
    from devtools.mailcatcher import start_mail_catcher

    catcher = start_mail_catcher(_DATA_DIR)
    (_DATA_DIR / "postgres.url").write_text(database_url)
    (_DATA_DIR / "valkey.url").write_text(redis_url)
    run_migrations()
    yield _DATA_DIR
    from core.db import get_engine

    get_engine().dispose()
    valkey.stop()
    catcher.stop()
    local.stop_postgres(postgres)
    shutil.rmtree(_DATA_DIR, ignore_errors=True)


@pytest.fixture
def clean(services: Path) -> Iterator[None]:
    """Empty tables, Redis and storage before each test that uses the services."""
    from core.config import settings
    from core.db import get_engine
    from core.redis import get_redis

    with get_engine().begin() as connection:
        connection.execute(text(f"TRUNCATE {TABLES} CASCADE"))
    get_redis().flushdb()
    shutil.rmtree(settings.storage_root, ignore_errors=True)
    for mail in (settings.DATA_DIR / "mail").glob("*.eml"):
        mail.unlink()
    yield


@pytest.fixture
def session(clean: None) -> Iterator[Session]:
    from core.db import get_engine

    with Session(get_engine(), expire_on_commit=False) as session:
        yield session


@pytest.fixture
def redis(clean: None) -> Redis:
    from core.redis import get_redis

    return get_redis()


@pytest.fixture
def client(clean: None) -> Iterator[TestClient]:
    from api.main import create_app

    with TestClient(create_app(), client=("127.0.0.1", 50000)) as client:
        yield client


@pytest.fixture(scope="session")
def faces_dir() -> Path:
    if not FACES.is_dir():
        pytest.skip(f"the shared face photos are not at {FACES} (clone ../shared beside the repo)")
    return FACES


def _start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


@pytest.fixture
def live_api(services: Path, clean: None) -> Iterator[str]:
    """uvicorn and one forking `python -m workers` on the test's Postgres and Valkey."""
    from devtools.local import free_port, stop_group
    from loadtest.stack import wait_ready

    port = free_port()
    env = dict(
        os.environ,
        FACEMATCH_DATA_DIR=str(services),
        FACEMATCH_PUBLIC_URL=f"http://127.0.0.1:{port}",
    )
    api = _start(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "api.main:app",
            "--port",
            str(port),
            "--no-proxy-headers",
        ],
        env,
    )
    worker = _start([sys.executable, "-m", "workers", "--log-level", "WARNING"], env)
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz", timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_group(api)
        stop_group(worker)
