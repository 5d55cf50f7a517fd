"""`make chaos`, short: a retry must not wait for an RQ scheduler that died.

The whole local stack (`facematch-dev up`, one worker, the reconciler) indexes a few
photos. The process holding RQ's scheduler lock is killed, then the work horse of a
photo: RQ puts that photo's retry in its scheduled registry, where no scheduler looks
until a worker takes the expired lock (61 s after its holder died, and more). The
reconciler must move it, so every photo is done well within the bound.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from loadtest.chaos import CHAOS_ENV, RECOVERY_BOUND_SECONDS, SHORT, killed_workers
from loadtest.stack import local_stack

pytestmark = [pytest.mark.faces, pytest.mark.e2e]


@pytest.mark.timeout(600)
def test_a_retry_does_not_wait_for_a_dead_scheduler(faces_dir: Path) -> None:
    with local_stack(1, env=CHAOS_ENV) as stack:
        result = killed_workers(stack, SHORT)

    assert result["kills"]["scheduler_holder"] == 1
    assert result["kills"]["work_horse"] == 1
    assert sum(n for attempts, n in result["attempts"].items() if int(attempts) > 1) >= 1
    assert result["indexed"] == SHORT.photos
    assert result["recovery_s"] <= RECOVERY_BOUND_SECONDS, result
    assert result["ok"], result
