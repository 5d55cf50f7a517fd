from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from rq import Worker
from rq.registry import FailedJobRegistry
from sqlmodel import Session

from api.admin import repository
from api.admin.schemas import AuditEntryPublic, AuditLog, QueueStats, Throughput, WorkerStatus
from api.errors import BadRequest
from core.models import AuditAction, utcnow
from core.queue import JobQueue

DEFAULT_WINDOW = timedelta(minutes=15)


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def throughput(session: Session, since: datetime | None) -> Throughput:
    now = utcnow()
    since = since or now - DEFAULT_WINDOW
    if since.tzinfo is None:
        raise BadRequest("since needs a timezone, e.g. 2026-11-22T10:00:00Z")
    seconds = max((now - since).total_seconds(), 1e-3)
    row = repository.throughput(session, since)
    return Throughput(
        since=since,
        seconds=round(seconds, 3),
        photos_indexed=row["photos_indexed"],
        photos_indexed_per_second=round(row["photos_indexed"] / seconds, 3),
        photos_failed=row["photos_failed"],
        photos_waiting=row["photos_waiting"],
        faces_found=row["faces_found"],
        selfies_done=row["selfies_done"],
        selfies_waiting=row["selfies_waiting"],
        selfie_p50_ms=_ms(row["selfie_p50_s"]),
        selfie_p95_ms=_ms(row["selfie_p95_s"]),
        selfie_max_ms=_ms(row["selfie_max_s"]),
    )


def list_audit(
    session: Session,
    *,
    event_id: uuid.UUID | None,
    action: AuditAction | None,
    cursor: str | None,
    limit: int,
) -> AuditLog:
    entries, next_cursor, count = repository.list_audit(
        session, event_id=event_id, action=action, cursor=cursor, limit=limit
    )
    data = [AuditEntryPublic.model_validate(e) for e in entries]
    return AuditLog(data=data, count=count, next_cursor=next_cursor)


def queue_stats(jobs: JobQueue) -> QueueStats:
    """Jobs waiting and failed per queue, and each live worker's state, from RQ."""
    failed = {name: FailedJobRegistry(queue=q).count for name, q in jobs.queues.items()}
    workers = [
        WorkerStatus(
            name=w.name,
            hostname=w.hostname,
            pid=w.pid,
            state=str(w.get_state()),
            queues=w.queue_names(),
            current_job=w.get_current_job_id(),
            last_heartbeat=w.last_heartbeat,
            successful_jobs=w.successful_job_count,
            failed_jobs=w.failed_job_count,
        )
        for w in Worker.all(connection=jobs.connection)
    ]
    return QueueStats(
        queues=jobs.depths(), workers=len(workers), failed=failed, worker_list=workers
    )
