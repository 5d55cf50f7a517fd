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
