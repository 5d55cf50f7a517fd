"""The locustfile against a real API server and a real forking worker."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlmodel import Session

from tests.helpers import create_user

pytestmark = [pytest.mark.faces, pytest.mark.e2e]

ROOT = Path(__file__).resolve().parents[2]


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
        # Each attendee looks once, then deletes their face data and a new one arrives.
        LOADTEST_ATTENDEE_VISITS="1",
    )
    result = subprocess.run(
        [sys.executable, "-m", "locust", "-f", str(ROOT / "loadtest/locustfile.py"), "--headless",
         "--host", live_api, "-u", "5", "-r", "5", "-t", "40s", "--csv", str(tmp_path / "run"),
         "--only-summary", "--stop-timeout", "5"],
        env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    with (tmp_path / "run_stats.csv").open() as f:
        stats = {row["Name"]: row for row in csv.DictReader(f)}
    failures = tmp_path / "run_failures.csv"  # which request failed, and why
    why = failures.read_text() if failures.exists() else ""
    assert result.returncode == 0, why + result.stderr[:3000]
    for name in ("[Attendee] register", "[Attendee] open sign-in link",
                 "[Attendee] upload selfie", "[Attendee] selfie status",
                 "[Attendee] selfie verdict", "[Attendee] my photos",
                 "[Photographer] upload photos", "[Attendee] delete face data"):  # fmt: skip
        assert int(stats[name]["Request Count"]) > 0, name
        assert stats[name]["Failure Count"] == "0", name
    verdicts = int(stats["[Attendee] selfie verdict"]["Request Count"])
    left = int(stats["[Attendee] delete face data"]["Request Count"])
    # 5 users: a photographer, an admin and 3 attendees, each replaced when they leave.
    assert 3 <= verdicts <= 3 + left
    with session.connection() as connection:
        selfies = connection.execute(text("SELECT status, count(*) FROM selfies GROUP BY 1"))
        photos = connection.execute(text("SELECT count(*) FROM photos")).scalar_one()
        users = connection.execute(
            text("SELECT count(*) FROM users WHERE role = 'attendee'")
        ).scalar_one()
    # A registration still in flight when the run stops is stored but not counted: at most
    # one per attendee user (3).
    registered = int(stats["[Attendee] register"]["Request Count"])
    assert registered <= users <= registered + 3
    # The attendees who left have no selfie left; the others' are valid, or pending when
    # the run stopped while they waited.
    by_status = dict(selfies.all())
    assert set(by_status) <= {"valid", "pending"}
    assert verdicts - left <= by_status["valid"] <= users - left
    assert photos == 10
