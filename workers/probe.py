"""The worker pod's exec probe: standard library only, so a probe costs a bare interpreter.

`python -m workers --alive SECONDS` lands here before anything else is imported
(see `workers/__main__.py`): the probe runs every 15 to 30 s in every worker pod,
and importing rq, SQLModel and the settings for it cost 1.7 s of CPU each time.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from core.heartbeat import is_fresh

HEARTBEAT_FILE = Path(os.environ.get("FACEMATCH_HEARTBEAT_FILE", "/tmp/facematch-worker-heartbeat"))
"""Touched on every RQ heartbeat; the pod's liveness probe reads its age (no HTTP needed)."""


def is_alive(max_age: float) -> bool:
    """True if the worker process touched its heartbeat file within `max_age` seconds."""
    return is_fresh(HEARTBEAT_FILE, max_age)


def main(argv: list[str]) -> int:
    """`--alive SECONDS`: exit 0 when the heartbeat is younger than SECONDS, else 1."""
    try:
        (flag, seconds) = argv
        if flag != "--alive":
            raise ValueError(flag)
        max_age = float(seconds)
    except ValueError:
        print("usage: python -m workers --alive SECONDS", file=sys.stderr)
        return 2
    return 0 if is_alive(max_age) else 1
