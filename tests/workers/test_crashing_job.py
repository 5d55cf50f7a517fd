"""A job that kills its process is retried, then failed with its reason; the worker goes on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from redis import Redis
from rq import Queue, Retry
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry
from rq.serializers import JSONSerializer

from core.queue import PHOTOS
from workers.worker import HORSE_NAME


def test_an_aborting_job_is_retried_then_failed_without_stopping_the_worker(
    services: Path, redis: Redis
) -> None:
    queue = Queue(PHOTOS, connection=redis, serializer=JSONSerializer)
    crasher = queue.enqueue("tests.workers.jobs.abort", retry=Retry(max=2), job_id="crasher")
    survivor = queue.enqueue("tests.workers.jobs.mark", "survived", job_id="survivor")
    queue.enqueue("tests.workers.jobs.record_process_name", "horse-name")

    result = subprocess.run(
        [sys.executable, "-m", "workers", "--burst", "--queues", PHOTOS, "--log-level", "INFO"],
        env=dict(os.environ, FACEMATCH_DATA_DIR=str(services)),
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    crasher = Job.fetch(crasher.id, connection=redis, serializer=JSONSerializer)
    assert crasher.get_status() == JobStatus.FAILED
    assert crasher.retries_left == 0
    assert "signal 6" in (crasher.latest_result().exc_string or ""), crasher.latest_result()
    assert crasher.id in FailedJobRegistry(queue=queue).get_job_ids()
    assert Job.fetch(survivor.id, connection=redis, serializer=JSONSerializer).get_status() == (
        JobStatus.FINISHED
    )
    assert redis.get("survived") == b"1"
    assert result.stderr.count("crasher") >= 3, "three attempts should be logged"
    # Each job's work horse is named, so ps, top and the soak test tell it from the worker.
    assert redis.get("horse-name") == HORSE_NAME
