"""The job catalogue and enqueueing: RQ queues, one JobSpec builder per job.

The API never imports `workers`: jobs are named by dotted path and carry ids,
never objects, serialized as JSON on both sides. Requests do not enqueue here
directly: `core.db.defer` holds a job until the transaction commits.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from redis import Redis
from rq import Queue, Retry
from rq.exceptions import DuplicateJobError, InvalidJobOperation, NoSuchJobError
from rq.executions import Execution
from rq.job import Job, JobStatus
from rq.registry import ScheduledJobRegistry, StartedJobRegistry
from rq.serializers import JSONSerializer

from core.logs import request_id
from core.redis import get_redis

SELFIES = "selfies"
"""An attendee is waiting: the highest priority."""
EMAILS = "emails"
"""Sign-in links: an attendee is waiting for each."""
DIGESTS = "digests"
"""Digests of new photos, in batches: after a race, thousands at once, which must not hold
up a sign-in link (at 150 ms a mail, 2 workers took 14 minutes for 10,000)."""
PHOTOS = "photos"
"""Bulk photo indexing."""
MAINTENANCE = "maintenance"
"""Rematches and clean-ups."""
QUEUE_NAMES = (SELFIES, EMAILS, DIGESTS, PHOTOS, MAINTENANCE)
"""Every worker listens to these, highest priority first."""

INDEX_PHOTO_TIMEOUT = 300
"""Seconds one photo may take to decode, detect and encode (a 24 MP crowd photo takes ~10 s)."""
READ_BIBS_TIMEOUT = 120
"""Seconds one photo's bibs may take to read (a 24 MP photo with 9 runners takes ~1 s)."""
VALIDATE_SELFIE_TIMEOUT = 120
"""Seconds one selfie may take to judge and encode."""
REMATCH_EVENT_TIMEOUT = 900
"""Seconds a whole event's rematch may take; it is SQL only."""
SEND_EMAIL_TIMEOUT = 60
"""Seconds one mail may take: connect, TLS, authenticate and send (SMTP_TIMEOUT_SECONDS each)."""
DELIVER_WEBHOOKS_TIMEOUT = 600
"""Seconds one run of an event's webhook deliveries may take (a receiver has 10 s each)."""
EMAIL_RETRY_INTERVALS = [30, 120, 600, 1800]
"""Seconds between a mail's retries: a mail server that refuses for a while (greylisting,
a restart) is waited out with backing off, for about 40 minutes."""
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
JOB_HEARTBEAT_SECONDS = 5
"""How often a worker beats for the job it runs (RQ's job monitoring interval)."""
ABANDONED_SECONDS = 20
"""A running job whose worker has not beaten for this long (4 beats) died with its worker
(a killed pod: its horse dies with it, see `workers.main`). RQ itself notices only when the
job's registry entry expires, 65 to 90 s after the last beat, and only in a live worker's
maintenance; the reconciler hands such a job to RQ's own clean-up at once."""


@dataclasses.dataclass(frozen=True)
class JobSpec:
    func: str
    queue: str
    job_id: str
    args: tuple[Any, ...]
    timeout: int
    retry_intervals: tuple[int, ...] = tuple(RETRY_INTERVALS)


def _spec(task: str, queue: str, entity: uuid.UUID, timeout: int) -> JobSpec:
    """One job per entity: the id is the task's name and the entity's, so a double
    enqueue is a no-op."""
    return JobSpec(f"workers.tasks.{task}", queue, f"{task.replace('_', '-')}-{entity}",
                   (str(entity),), timeout)  # fmt: skip


def index_photo(photo_id: uuid.UUID) -> JobSpec:
    return _spec("index_photo", PHOTOS, photo_id, INDEX_PHOTO_TIMEOUT)


def validate_selfie(selfie_id: uuid.UUID) -> JobSpec:
    return _spec("validate_selfie", SELFIES, selfie_id, VALIDATE_SELFIE_TIMEOUT)


def release_selfie(selfie_id: uuid.UUID) -> JobSpec:
    """A held selfie released by the photographer or an admin: matched now."""
    return _spec("release_selfie", SELFIES, selfie_id, VALIDATE_SELFIE_TIMEOUT)


def judge_opt_out(opt_out_id: uuid.UUID) -> JobSpec:
    """Someone who never joined asked to be left out: their live selfie judged, their
    faces removed."""
    return _spec("judge_opt_out", SELFIES, opt_out_id, REMATCH_EVENT_TIMEOUT)


def rematch_event(event_id: uuid.UUID) -> JobSpec:
    return _spec("rematch_event", MAINTENANCE, event_id, REMATCH_EVENT_TIMEOUT)


def forget_attendee(attendee_id: uuid.UUID) -> JobSpec:
    """After an attendee's face data is deleted: the faces that named them get their
    nearest attendees again, and those photos their matches."""
    return _spec("forget_attendee", MAINTENANCE, attendee_id, VALIDATE_SELFIE_TIMEOUT)


def rematch_attendee(attendee_id: uuid.UUID) -> JobSpec:
    """After an attendee consents to a new policy: the matching paused meanwhile. An
    attendee is waiting: the selfies queue."""
    return _spec("rematch_attendee", SELFIES, attendee_id, VALIDATE_SELFIE_TIMEOUT)


def rematch_photo(photo_id: uuid.UUID) -> JobSpec:
    return _spec("rematch_photo", MAINTENANCE, photo_id, VALIDATE_SELFIE_TIMEOUT)


def restore_match(photo_id: uuid.UUID) -> JobSpec:
    """After a "not me" is taken back: the photo's matches again. A job id of its own: a
    `rematch_photo` of the same photo already running, with the "not me" still in its
    snapshot, would otherwise swallow this enqueue and the photo would not come back."""
    return _spec("restore_match", MAINTENANCE, photo_id, VALIDATE_SELFIE_TIMEOUT)


def read_bibs(photo_id: uuid.UUID) -> JobSpec:
    """An indexed photo's bibs, owed since its event turned bib reading on; after the
    photos still waiting to be indexed (the same queue, later)."""
    return _spec("read_bibs", PHOTOS, photo_id, READ_BIBS_TIMEOUT)


PHOTO_JOBS = (index_photo, rematch_photo, restore_match, read_bibs)
"""Every job one photo may have: a deleted photo's are dropped from the queues."""


def preview_tolerance(event_id: uuid.UUID, tolerance: float) -> JobSpec:
    """What another tolerance would do to the event's matches: read only, one job per
    (event, tolerance) so a double click is a no-op."""
    return JobSpec("workers.tasks.preview_tolerance", MAINTENANCE,
                   f"preview-tolerance-{event_id}-{round(tolerance * 100)}",
                   (str(event_id), tolerance), REMATCH_EVENT_TIMEOUT)  # fmt: skip


def purge_unmatched_faces(event_id: uuid.UUID) -> JobSpec:
    return _spec("purge_unmatched_faces", MAINTENANCE, event_id, REMATCH_EVENT_TIMEOUT)


def sweep_previews(event_id: uuid.UUID) -> JobSpec:
    """Delete the event's previews made under an older watermark (its `mark_version`)."""
    return _spec("sweep_previews", MAINTENANCE, event_id, REMATCH_EVENT_TIMEOUT)


def deliver_webhooks(event_id: uuid.UUID) -> JobSpec:
    """Post an event's owed webhook deliveries in order (workers/jobs/webhooks.py): one job
    per event, so a double enqueue is a no-op; behind sign-in links, like digests."""
    return _spec("deliver_webhooks", DIGESTS, event_id, DELIVER_WEBHOOKS_TIMEOUT)


def send_email(email_id: uuid.UUID) -> JobSpec:
    """One row of the `emails` outbox, sent by SMTP (workers/jobs/mail.py)."""
    spec = _spec("send_email", EMAILS, email_id, SEND_EMAIL_TIMEOUT)
    return dataclasses.replace(spec, retry_intervals=tuple(EMAIL_RETRY_INTERVALS))


SEND_BATCH = 50
"""Digest mails per job, sent over one SMTP connection: a job per mail spent most of its
time on RQ's fork and bookkeeping (loadtest/README.md, "Mail")."""


def send_emails(email_ids: list[uuid.UUID]) -> JobSpec:
    """Up to SEND_BATCH outbox rows over one SMTP connection; named by its first row (each
    row is in one batch)."""
    return JobSpec("workers.tasks.send_emails", DIGESTS, f"send-emails-{email_ids[0]}",
                   ([str(e) for e in email_ids],), SEND_EMAIL_TIMEOUT * 5,
                   tuple(EMAIL_RETRY_INTERVALS))  # fmt: skip


def delete_event(event_id: uuid.UUID) -> JobSpec:
    """Everything of an event, in batches that each commit (workers/jobs/deletion.py)."""
    return _spec("delete_event", MAINTENANCE, event_id, REMATCH_EVENT_TIMEOUT)


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
                    retry=Retry(max=len(spec.retry_intervals), interval=list(spec.retry_intervals)),
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

    def discard(self, spec: JobSpec) -> bool:
        """Drop the entity's job if it has not started: its row is gone. A running one
        finds the row gone and does nothing."""
        return self.discard_many([spec]) == 1

    def discard_many(self, specs: list[JobSpec]) -> int:
        """`discard` for many, read in one round trip; how many were dropped. A failed
        job waiting in its registry goes too: it names a row that is gone."""
        ids = [spec.job_id for spec in specs]
        dropped = 0
        for job in Job.fetch_many(ids, connection=self.connection, serializer=JSONSerializer):
            if job is None or job.get_status(refresh=False) == JobStatus.STARTED:
                continue
            job.delete()
            dropped += 1
        return dropped

    def is_active(self, job_id: str) -> bool:
        """Whether RQ will still run this job: queued, running, or scheduled for a retry that
        RQ will still run. Not a retry overdue by OVERDUE_SECONDS (`release_overdue`), nor a
        job whose worker stopped beating ABANDONED_SECONDS ago (`release_abandoned`)."""
        return job_id in self.active([job_id])

    def active(self, job_ids: list[str]) -> set[str]:
        """The ids among `job_ids` that `is_active`, read in one round trip (plus one per
        scheduled or running job, which are few)."""
        found = Job.fetch_many(job_ids, connection=self.connection, serializer=JSONSerializer)
        active = set()
        for job in found:
            if job is None:
                continue
            status = job.get_status(refresh=False)
            if status == JobStatus.SCHEDULED:
                alive = not self._overdue(job)
            elif status == JobStatus.STARTED:
                beats = self._beats(job.id)  # none: between RQ's steps; RQ's to settle
                alive = not beats or max(beats) > time.time() - ABANDONED_SECONDS
            else:
                alive = status not in _FINISHED
            if alive:
                active.add(job.id)
        return active

    def release_abandoned(self) -> list[str]:
        """Hand every running job whose worker stopped beating ABANDONED_SECONDS ago to RQ's
        clean-up of abandoned jobs, which schedules its retry or fails it; a retry goes to
        its queue at once, as it has waited long enough. The ids handed over."""
        released: list[str] = []
        cutoff = time.time() - ABANDONED_SECONDS
        for queue in self.queues.values():
            registry = StartedJobRegistry(queue=queue, serializer=JSONSerializer)
            expired = [
                f"{job_id}:{execution_id}"
                for job_id, execution_id in registry.get_job_and_execution_ids(cleanup=False)
                if self._beat(job_id, execution_id) < cutoff
            ]
            if expired:
                # An entry's score is when RQ will count it abandoned: that is now.
                self.connection.zadd(registry.key, dict.fromkeys(expired, 0), xx=True)
                registry.cleanup()
                released += [entry.rsplit(":", 1)[0] for entry in expired]
        for job_id in released:
            with contextlib.suppress(NoSuchJobError):
                job = Job.fetch(job_id, connection=self.connection, serializer=JSONSerializer)
                if job.get_status(refresh=False) == JobStatus.SCHEDULED:
                    self._release(job)
        return released

    def _beats(self, job_id: str) -> list[float]:
        """When each of a job's running executions last beat (seconds since the epoch)."""
        queue_entries = (
            StartedJobRegistry(queue=queue, serializer=JSONSerializer).get_job_and_execution_ids(
                cleanup=False
            )
            for queue in self.queues.values()
        )
        return [
            self._beat(job, execution)
            for entries in queue_entries
            for job, execution in entries
            if job == job_id
        ]

    def _beat(self, job_id: str, execution_id: str) -> float:
        """An execution's last beat; 0 when its record has expired (its worker is long gone)."""
        with contextlib.suppress(ValueError):
            return Execution.fetch(execution_id, job_id, self.connection).last_heartbeat.timestamp()
        return 0.0

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
