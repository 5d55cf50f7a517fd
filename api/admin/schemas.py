from __future__ import annotations

from sqlmodel import SQLModel


class QueueStats(SQLModel):
    queues: dict[str, int]
    workers: int
    failed: dict[str, int]
