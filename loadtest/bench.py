"""`make bench`: start a throwaway local stack, run the benchmarks, stop it.

Benchmarks need a running platform; this starts one with its own data folder
and port, so it never touches a `make dev` stack.
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"the stack did not become ready at {url}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="facematch-bench-"))
    port = free_port()
    email, password = "bench-admin@example.com", secrets.token_urlsafe(16)
    env = dict(
        os.environ,
        FACEMATCH_DATA_DIR=str(data_dir),
        FACEMATCH_ADMIN_EMAIL=email,
        FACEMATCH_ADMIN_PASSWORD=password,
        PORT=str(port),
        WORKERS=str(args.workers),
    )
    stack = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "dev"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_ready(f"{base}/readyz")
        print(f"== selfie upload to matches ({args.runs} runs, {args.workers} workers)")
        return subprocess.call(
            [
                sys.executable,
                str(HERE / "selfie_latency.py"),
                "--base",
                base,
                "--runs",
                str(args.runs),
                "--admin-email",
                email,
                "--admin-password",
                password,
            ],
            env=env,
        )
    finally:
        os.killpg(stack.pid, signal.SIGINT)
        try:
            stack.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(stack.pid, signal.SIGKILL)
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
