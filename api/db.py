"""Database engine and sessions.

Each process tags its connections with `application_name` (api, worker, migrate),
which makes `pg_stat_activity` readable under load.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import TYPE_CHECKING

from sqlalchemy import Engine, text
from sqlmodel import Session, create_engine

from api.config import settings

if TYPE_CHECKING:
    from api.queue import JobQueue

_process_role = "api"


def set_process_role(role: str) -> None:
    """Name the process that owns the connections; call before the first `get_engine()`."""
    global _process_role
    _process_role = role
    get_engine.cache_clear()
    from api.queue import get_redis

    get_redis.cache_clear()


def process_role() -> str:
    return _process_role


def sqlalchemy_url(url: str) -> str:
    """Pin the psycopg 3 driver whatever scheme the operator gave."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError(f"not a PostgreSQL URL: {url.split('@')[-1]}")


@cache
def get_engine() -> Engine:
    return create_engine(
        sqlalchemy_url(settings.database_url),
        pool_pre_ping=True,
        # 10 + 30 = anyio's 40 threads that run sync endpoints: a request never waits
        # for a connection only because the pool is smaller than the thread pool.
        pool_size=10,
        max_overflow=30,
        pool_timeout=5,
        connect_args={"application_name": _process_role, "connect_timeout": 3},
    )


@contextmanager
def session_scope(jobs: JobQueue | None = None) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on error.

    Jobs deferred with `api.queue.defer` are enqueued, and `on_commit` callbacks
    run, only after the commit; a rollback runs the `on_rollback` clean-ups.
    """
    from api.queue import after_commit, after_rollback

    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            after_rollback(session)
            raise
        after_commit(session, jobs)


_MATCHING_LOCK_NAMESPACE = 0x666D  # "fm": the first key of the two-int advisory lock space
_MATCHING_LOCK = text("SELECT pg_advisory_xact_lock(:namespace, hashtext(CAST(:event_id AS text)))")


def lock_matching(session: Session, event_id: uuid.UUID) -> None:
    """Wait for, then hold until commit, the right to change this event's matches.

    Every transaction that writes matches (the workers' matching, an attendee's
    "not me" or deletion of their face data) takes it, and takes it before any
    row lock, so that all of them take their locks in one order. See
    `workers/matching.py` for the race it closes.
    """
    params = {"namespace": _MATCHING_LOCK_NAMESPACE, "event_id": event_id}
    session.connection().execute(_MATCHING_LOCK, params)
