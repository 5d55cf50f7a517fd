"""The worker refuses to start without its models, whatever face_recognition does."""

import os
import subprocess
import sys
from pathlib import Path

from workers.main import EXIT_MODELS_MISSING


def test_worker_check_loads_the_models() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "workers", "--check"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "face models loaded" in result.stdout


def test_missing_models_make_the_worker_exit_non_zero_not_quit_with_0(tmp_path: Path) -> None:
    # face_recognition calls quit() (exit status 0) when this import fails.
    shadow = tmp_path / "face_recognition_models"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ImportError('models removed for this test')\n")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tmp_path), os.getcwd()]))
    result = subprocess.run(
        [sys.executable, "-m", "workers", "--check"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert result.returncode == EXIT_MODELS_MISSING
    assert "could not load its models" in result.stderr


def test_the_liveness_probe_reads_the_heartbeat_age(tmp_path: Path) -> None:
    heartbeat = tmp_path / "heartbeat"
    env = dict(os.environ, FACEMATCH_HEARTBEAT_FILE=str(heartbeat))

    def probe() -> int:
        return subprocess.run(
            [sys.executable, "-m", "workers", "--alive", "60"], env=env, timeout=60
        ).returncode

    assert probe() == 1
    heartbeat.touch()
    assert probe() == 0
    old = heartbeat.stat().st_mtime - 120
    os.utime(heartbeat, (old, old))
    assert probe() == 1


WARM_UP_PROBE = """
import sys
from workers.main import warm_up
from core.db import get_engine
before = {m for m in sys.modules if m.startswith(("psycopg", "PIL.JpegImagePlugin"))}
warm_up()
after = {m for m in sys.modules if m.startswith(("psycopg", "PIL.JpegImagePlugin"))}
pool = get_engine().pool
print(len(before), len(after) > len(before), pool.checkedin(), pool.checkedout())
"""


def test_warm_up_imports_what_jobs_need_and_leaves_no_connection_to_fork(services: Path) -> None:
    env = dict(os.environ, FACEMATCH_DATA_DIR=str(services))
    result = subprocess.run([sys.executable, "-c", WARM_UP_PROBE], capture_output=True,
                            text=True, timeout=120, env=env)  # fmt: skip

    assert result.returncode == 0, result.stderr
    before, grew, idle, busy = result.stdout.split()
    assert (before, grew, idle, busy) == ("0", "True", "0", "0")


def test_warm_up_survives_a_database_that_is_not_up_yet() -> None:
    env = dict(os.environ, FACEMATCH_DATABASE_URL="postgresql://nobody@127.0.0.1:1/none")
    result = subprocess.run([sys.executable, "-c", WARM_UP_PROBE], capture_output=True,
                            text=True, timeout=120, env=env)  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert "database not reachable while warming up" in result.stderr


def test_the_probe_imports_nothing_but_the_standard_library(tmp_path: Path) -> None:
    env = dict(os.environ, FACEMATCH_HEARTBEAT_FILE=str(tmp_path / "heartbeat"))
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "workers", "--alive", "60"],
        capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert result.returncode == 1  # no heartbeat yet
    imported = {
        line.rsplit("|", 1)[-1].strip()
        for line in result.stderr.splitlines()
        if line.startswith("import time:") and "imported package" not in line
    }
    top_level = {name.split(".")[0] for name in imported}
    assert "workers" in top_level
    assert {name for name in imported if name.split(".")[0] == "core"} <= {"core", "core.heartbeat"}
    assert "api" not in top_level
    site_hooks = {"sitecustomize", "usercustomize", "_distutils_hack"}  # site.py tries them
    outside = top_level - set(sys.stdlib_module_names) - site_hooks - {"workers", "core"}
    assert outside == set(), outside


def test_an_idle_worker_keeps_its_liveness_file_fresh(services: Path, tmp_path: Path) -> None:
    # RQ beats between waits on the queues; its default wait (405 s) outlasted the
    # probe's 120 s, so a worker with nothing to do was restarted as dead.
    import itertools
    import time

    from devtools.local import stop_group
    from workers.main import WORKER_TTL

    heartbeat = tmp_path / "heartbeat"
    env = dict(
        os.environ, FACEMATCH_DATA_DIR=str(services), FACEMATCH_HEARTBEAT_FILE=str(heartbeat)
    )
    worker = subprocess.Popen([sys.executable, "-m", "workers", "--log-level", "WARNING"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)  # fmt: skip
    try:
        beats: list[float] = []
        deadline = time.monotonic() + 90
        while len(beats) < 3 and time.monotonic() < deadline:
            if heartbeat.exists() and heartbeat.stat().st_mtime not in beats:
                beats.append(heartbeat.stat().st_mtime)
            time.sleep(0.5)
    finally:
        stop_group(worker)
    assert len(beats) == 3, beats
    assert max(b - a for a, b in itertools.pairwise(beats)) <= WORKER_TTL - 15 + 3
