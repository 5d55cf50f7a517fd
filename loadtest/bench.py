"""`make bench`: start a throwaway local stack, time selfie upload to matches, stop it."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from loadtest.stack import local_stack

HERE = Path(__file__).parent


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with local_stack(args.workers) as stack:
        print(f"== selfie upload to matches ({args.runs} runs, {args.workers} workers)")
        return subprocess.call(
            [sys.executable, str(HERE / "selfie_latency.py"), "--base", stack.base,
             "--runs", str(args.runs), "--admin-email", stack.admin_email,
             "--admin-password", stack.admin_password]
        )  # fmt: skip


if __name__ == "__main__":
    sys.exit(main())
