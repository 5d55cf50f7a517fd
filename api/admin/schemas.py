from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import SQLModel

from core.models import AuditAction


class WorkerStatus(SQLModel):
    """One live RQ worker, as it reports itself in Redis."""

    name: str
    hostname: str | None
    pid: int | None
    state: str
    queues: list[str]
    current_job: str | None
    last_heartbeat: datetime | None
    successful_jobs: int
    failed_jobs: int


class QueueStats(SQLModel):
    queues: dict[str, int]
    workers: int
    failed: dict[str, int]
    worker_list: list[WorkerStatus] = []


class Throughput(SQLModel):
    """Work finished since `since`, as the queue side sees it.

    A selfie's latency runs from its upload to the commit of its verdict and
    matches (one transaction), so it is what an attendee waits for, without
    the client's polling.
    """

    since: datetime
    seconds: float
    photos_indexed: int
    photos_indexed_per_second: float
    photos_failed: int
    photos_waiting: int
    faces_found: int
    selfies_done: int
    selfies_waiting: int
    selfie_p50_ms: float | None
    selfie_p95_ms: float | None
    selfie_max_ms: float | None


class AuditEntryPublic(SQLModel):
    id: uuid.UUID
    at: datetime
    action: AuditAction
    event_id: uuid.UUID | None
    subject_id: uuid.UUID | None
    count: int
    actor: str
    reason: str | None


class AuditLog(SQLModel):
    data: list[AuditEntryPublic]
    count: int
    next_cursor: str | None = None
    """Send it back as `cursor` for the next page; None: this is the last."""
