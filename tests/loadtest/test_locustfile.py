"""The locustfile against a real API server and a real forking worker."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session

from loadtest.stack import free_port, wait_ready
from tests.helpers import create_user

pytestmark = [pytest.mark.faces, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]


def _start(argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


@pytest.fixture
def live_api(services: Path, clean: None) -> Iterator[str]:
    """uvicorn and one `python -m workers` on the test's Postgres and Valkey."""
    port = free_port()
    env = dict(
        os.environ, FACEMATCH_DATA_DIR=str(services), FACEMATCH_RECONCILE_INTERVAL_SECONDS="3600"
    )
    api = _start([sys.executable, "-m", "uvicorn", "api.main:app", "--port", str(port)], env)
    worker = _start([sys.executable, "-m", "workers", "--log-level", "WARNING"], env)
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz", timeout=60)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(api)
        _stop(worker)


def test_the_traffic_mix_runs_without_failures(
    live_api: str, session: Session, faces_dir: Path, tmp_path: Path
) -> None:
    create_user(session, email="lt-admin@example.com", role="admin")
    env = dict(
        os.environ,
        LOADTEST_ADMIN_EMAIL="lt-admin@example.com",
        LOADTEST_ADMIN_PASSWORD="correct horse battery",
        LOADTEST_FACES=str(faces_dir),
        LOADTEST_PHOTOS="10",
        LOADTEST_PHOTO_BATCH="5",
    )
    result = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtest/locustfile.py"), "--headless",
         "--host", live_api, "-u", "5", "-r", "5", "-t", "40s", "--csv", str(tmp_path / "run"),
         "--only-summary", "--stop-timeout", "5"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    with (tmp_path / "run_stats.csv").open() as f:
        stats = {row["Name"]: row for row in csv.DictReader(f)}
    assert result.returncode == 0, result.stderr[-3000:]
    for name in ("[Attendee] register", "[Attendee] upload selfie", "[Attendee] selfie status",
                 "[Attendee] selfie verdict", "[Attendee] my photos",
                 "[Photographer] upload photos"):  # fmt: skip
        assert int(stats[name]["Request Count"]) > 0, name
        assert stats[name]["Failure Count"] == "0", name
    assert stats["[Attendee] selfie verdict"]["Request Count"] == "3"  # 5 users: 1 + 1 + 3
    with session.connection() as connection:
        selfies = connection.execute(text("SELECT status, count(*) FROM selfies GROUP BY 1"))
        photos = connection.execute(text("SELECT count(*) FROM photos")).scalar_one()
    assert dict(selfies.all()) == {"valid": 3}
    assert photos == 10
