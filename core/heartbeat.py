"""Liveness by a file's age, for processes that serve no HTTP: workers and the reconciler.

The process touches its file while it works; the pod's exec probe reads the age:

    python -m core.heartbeat FILE SECONDS     # exit 0 if FILE is younger than SECONDS

Standard library only: a probe runs every few seconds in every pod, and importing the
settings, SQLModel or rq for it would cost more than a second of CPU each time.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path


def is_fresh(path: Path, max_age: float) -> bool:
    """True if `path` was touched within `max_age` seconds."""
    try:
        return time.time() - path.stat().st_mtime < max_age
    except FileNotFoundError:
        return False


def main(argv: list[str]) -> int:
    try:
        (path, seconds) = argv
        max_age = float(seconds)
    except ValueError:
        print("usage: python -m core.heartbeat FILE SECONDS", file=sys.stderr)
        return 2
    return 0 if is_fresh(Path(path), max_age) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
