"""The job catalogue and enqueueing: RQ queues, one JobSpec builder per job.

The API never imports `workers`: jobs are named by dotted path and carry ids,
never objects, serialized as JSON on both sides. Requests do not enqueue here
directly: `api.db.defer` holds a job until the transaction commits.
"""

from __future__ import annotations

import contextlib
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, InvalidJobOperation, NoSuchJobError
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry
from rq.serializers import JSONSerializer

from api.logs import request_id
from api.redis import get_redis

SELFIES = "selfies"
"""An attendee is waiting: the highest priority."""
PHOTOS = "photos"
"""Bulk photo indexing."""
MAINTENANCE = "maintenance"
"""Rematches and clean-ups."""
QUEUE_NAMES = (SELFIES, PHOTOS, MAINTENANCE)
"""Every worker listens to these, highest priority first."""

INDEX_PHOTO_TIMEOUT = 300
"""Seconds one photo may take to decode, detect and encode (a 24 MP crowd photo takes ~10 s)."""
VALIDATE_SELFIE_TIMEOUT = 120
"""Seconds one selfie may take to judge and encode."""
REMATCH_EVENT_TIMEOUT = 900
"""Seconds a whole event's rematch may take; it is SQL only."""
RESULT_TTL = 0
"""Results are in the database, so RQ drops finished jobs at once."""
FAILURE_TTL = 7 * 24 * 3600
"""Failed jobs stay a week for inspection."""
RETRY_INTERVALS = [10, 30, 60]
"""Seconds between the three retries of a failed job."""
LONGEST_JOB_SECONDS = max(INDEX_PHOTO_TIMEOUT, VALIDATE_SELFIE_TIMEOUT, REMATCH_EVENT_TIMEOUT)
"""A worker pod's termination grace period must exceed this."""

_FINISHED = {JobStatus.FINISHED, JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED}
OVERDUE_SECONDS = 10
"""A retry still in RQ's scheduled registry this long after it was due has no live scheduler
to move it: RQ's scheduler runs inside one worker, and a killed worker takes it along until
another worker's maintenance takes the lock (minutes). The reconciler moves such jobs."""


@dataclass(frozen=True)
class JobSpec:
    func: str
    queue: str
    job_id: str
    args: tuple[Any, ...]
    timeout: int


def _spec(task: str, queue: str, entity: uuid.UUID, timeout: int) -> JobSpec:
    """One job per entity: the id is the task's name and the entity's, so a double
    enqueue is a no-op."""
    return JobSpec(f"workers.tasks.{task}", queue, f"{task.replace('_', '-')}-{entity}",
                   (str(entity),), timeout)  # fmt: skip


def index_photo(photo_id: uuid.UUID) -> JobSpec:
    return _spec("index_photo", PHOTOS, photo_id, INDEX_PHOTO_TIMEOUT)


def validate_selfie(selfie_id: uuid.UUID) -> JobSpec:
    return _spec("validate_selfie", SELFIES, selfie_id, VALIDATE_SELFIE_TIMEOUT)


def rematch_event(event_id: uuid.UUID) -> JobSpec:
    return _spec("rematch_event", MAINTENANCE, event_id, REMATCH_EVENT_TIMEOUT)


def rematch_photo(photo_id: uuid.UUID) -> JobSpec:
    return _spec("rematch_photo", MAINTENANCE, photo_id, VALIDATE_SELFIE_TIMEOUT)


def purge_unmatched_faces(event_id: uuid.UUID) -> JobSpec:
    return _spec("purge_unmatched_faces", MAINTENANCE, event_id, REMATCH_EVENT_TIMEOUT)


class JobQueue:
    def __init__(self, connection: Redis) -> None:
        self.connection = connection
        self.queues = {
            name: Queue(name, connection=connection, serializer=JSONSerializer)
            for name in QUEUE_NAMES
        }

    def enqueue(self, spec: JobSpec) -> Job:
        """Enqueue once per entity: a job already queued or running under this id is kept."""
        queue = self.queues[spec.queue]
        for _ in range(3):
            try:
                return queue.enqueue_call(
                    spec.func,
                    args=spec.args,
                    timeout=spec.timeout,
                    result_ttl=RESULT_TTL,
                    failure_ttl=FAILURE_TTL,
                    retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
                    job_id=spec.job_id,
                    unique=True,
                    # The request that asked for the work, for the job's log lines.
                    meta={"request_id": request_id.get()} if request_id.get() else None,
                )
            except DuplicateJobError:
                try:
                    existing = Job.fetch(
                        spec.job_id, connection=self.connection, serializer=JSONSerializer
                    )
                except NoSuchJobError:
                    continue
                status = existing.get_status(refresh=False)
                if status == JobStatus.SCHEDULED and self._overdue(existing):
                    return self._release(existing)
                if status not in _FINISHED:
                    return existing
                # A finished or failed job under this id: the entity needs work again.
                existing.delete()
        raise RuntimeError(f"could not enqueue {spec.job_id}")

    def is_active(self, job_id: str) -> bool:
        """Whether a job is queued, running, or scheduled for a retry that RQ will still run;
        a retry overdue by OVERDUE_SECONDS is not (see `release_overdue`)."""
        try:
            job = Job.fetch(job_id, connection=self.connection, serializer=JSONSerializer)
        except NoSuchJobError:
            return False
        status = job.get_status(refresh=False)
        if status == JobStatus.SCHEDULED:
            return not self._overdue(job)
        return status not in _FINISHED

    def release_overdue(self) -> list[str]:
        """Move every retry overdue by OVERDUE_SECONDS from the scheduled registries to its
        queue, as RQ's scheduler would have; the ids moved. Safe beside a live scheduler:
        a job is moved by whichever removes it from the registry first."""
        moved = []
        cutoff = datetime.now(UTC) - timedelta(seconds=OVERDUE_SECONDS)
        for queue in self.queues.values():
            registry = ScheduledJobRegistry(queue=queue, serializer=JSONSerializer)
            for job_id in registry.get_jobs_to_schedule(int(cutoff.timestamp())):
                with contextlib.suppress(InvalidJobOperation, NoSuchJobError):
                    registry.requeue(job_id)
                    moved.append(job_id)
        return moved

    def _overdue(self, job: Job) -> bool:
        registry = ScheduledJobRegistry(queue=self.queues[job.origin], serializer=JSONSerializer)
        try:
            due = registry.get_scheduled_time(job)
        except NoSuchJobError:  # not in the registry: being moved right now
            return False
        return datetime.now(UTC) - due > timedelta(seconds=OVERDUE_SECONDS)

    def _release(self, job: Job) -> Job:
        registry = ScheduledJobRegistry(queue=self.queues[job.origin], serializer=JSONSerializer)
        with contextlib.suppress(InvalidJobOperation):  # a scheduler moved it meanwhile
            return registry.requeue(job)
        return job

    def depths(self) -> dict[str, int]:
        return {name: queue.count for name, queue in self.queues.items()}


def get_job_queue() -> JobQueue:
    return JobQueue(get_redis())
