from __future__ import annotations

from datetime import datetime

from sqlmodel import SQLModel


class QueueStats(SQLModel):
    queues: dict[str, int]
    workers: int
    failed: dict[str, int]


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
