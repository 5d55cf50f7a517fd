"""The RQ worker class: RQ's forking worker, plus what the process needs around each job
(as rq's own worker_classes.py declares its variants at module level).

- Every heartbeat touches the liveness file (workers/probe.py) and records the process's
  memory; between jobs it refreshes the in-memory caches (workers/matching/).
- A work horse names itself HORSE_NAME, and runs its job with the log context set, then
  records the job's duration and outcome.
"""

from __future__ import annotations

import contextlib
import logging
import os
import resource
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rq import Worker

from core.config import settings
from core.logs import job_id, request_id
from core.metrics import record_job, record_worker_memory
from core.process import PR_SET_NAME, prctl
from workers.matching import face_cache, selfie_cache
from workers.probe import HEARTBEAT_FILE

log = logging.getLogger("workers")

HORSE_NAME = b"facematch-horse"
"""A work horse's process name in ps and top (15 bytes, the kernel's limit), so that tools
and the soak test tell the horses from the long-lived worker processes."""
CACHES = (face_cache.CACHE, selfie_cache.CACHE)


def name_process(name: bytes) -> None:
    """Set this process's name (Linux `comm`, as ps and top show it); elsewhere a no-op."""
    prctl(PR_SET_NAME, name)


@contextlib.contextmanager
def job_context(job: Any) -> Iterator[None]:
    """Set the log context (job id, and the request id from its meta) while a job runs."""
    tokens = (job_id.set(job.id), request_id.set((job.meta or {}).get("request_id")))
    try:
        yield
    finally:
        job_id.reset(tokens[0])
        request_id.reset(tokens[1])


def memory() -> tuple[int, int]:
    """This process's resident memory and its largest finished child's peak, in bytes."""
    try:
        resident = int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        resident = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return resident, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * 1024


class FacematchWorker(Worker):
    def heartbeat(self, timeout: int | None = None, pipeline: Any = None) -> None:
        super().heartbeat(timeout, pipeline)
        HEARTBEAT_FILE.touch()
        with contextlib.suppress(Exception):  # metrics never stop the work
            record_worker_memory(self.connection, self.name, *memory())
        if pipeline is None:  # between jobs (not while a work horse runs one)
            for cache in CACHES:
                try:
                    cache.refresh(settings.database_url, self.connection)
                except Exception:  # the horses scan in SQL meanwhile
                    log.exception("%s refresh failed", type(cache).__name__)

    def main_work_horse(self, job: Any, queue: Any) -> None:
        name_process(HORSE_NAME)
        super().main_work_horse(job, queue)

    def perform_job(self, job: Any, queue: Any, execution: Any) -> bool:
        """In the work horse: log context for the job, then its duration and outcome."""
        started = time.perf_counter()
        with job_context(job):
            ok = bool(super().perform_job(job, queue, execution))
        with contextlib.suppress(Exception):
            record_job(self.connection, job.func_name, time.perf_counter() - started, ok)
        return ok
