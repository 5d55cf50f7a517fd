"""Database engine, sessions and the unit of work's hooks.

Each process tags its connections with `application_name` (`core.process`).
Side effects outside the database wait for the transaction: jobs (`defer`) are
enqueued and `on_commit` callbacks run after the commit; `on_rollback`
callbacks (a stored file to remove) run after a rollback.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache

from sqlalchemy import Engine, text
from sqlmodel import Session, create_engine

from core.config import settings
from core.process import on_role_change, process_role
from core.queue import JobQueue, JobSpec, get_job_queue

log = logging.getLogger(__name__)


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
        connect_args={"application_name": process_role(), "connect_timeout": 3},
    )


on_role_change(get_engine.cache_clear)


@contextmanager
def session_scope(jobs: JobQueue | None = None) -> Iterator[Session]:
    """A unit of work: commit on success, roll back on error.

    Jobs deferred with `defer` are enqueued, and `on_commit` callbacks run, only
    after the commit; a rollback runs the `on_rollback` clean-ups.
    """
    with Session(get_engine(), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            _after_rollback(session)
            raise
        _after_commit(session, jobs)


def begin_snapshot(session: Session) -> None:
    """Make the session's reads, from here to its end, all of one moment and read-only.

    A list's page and its count read in two statements otherwise see different moments:
    a photo committed between them is listed but not counted. Under REPEATABLE READ a
    read-only transaction never fails for a concurrent write. It must begin the session's
    work, since a transaction's isolation is set before its first statement.
    """
    if session.in_transaction():
        raise RuntimeError("a snapshot must begin before the session's first read")
    session.connection(
        execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
    )


_MATCHING_LOCK_NAMESPACE = 0x666D  # "fm": the first key of the two-int advisory lock space
_MATCHING_LOCK = text("SELECT pg_advisory_xact_lock(:namespace, hashtext(CAST(:event_id AS text)))")


def lock_matching(session: Session, event_id: uuid.UUID) -> None:
    """Wait for, then hold until commit, the right to change this event's matches.

    Every transaction that writes matches (the workers' matching, an attendee's
    "not me" or deletion of their face data) takes it, and takes it before any
    row lock, so that all of them take their locks in one order. See
    `workers/matching/__init__.py` for the race it closes.
    """
    params = {"namespace": _MATCHING_LOCK_NAMESPACE, "event_id": event_id}
    session.connection().execute(_MATCHING_LOCK, params)


def defer(session: Session, spec: JobSpec) -> None:
    """Enqueue `spec` once the session's transaction commits; a rollback drops it."""
    session.info.setdefault("jobs", []).append(spec)


def on_rollback(session: Session, callback: Callable[[], None]) -> None:
    """Undo a side effect outside the database (a stored file) if the transaction fails."""
    session.info.setdefault("on_rollback", []).append(callback)


def on_commit(session: Session, callback: Callable[[], object]) -> None:
    """Do a side effect outside the database (delete a file) once the transaction commits."""
    session.info.setdefault("on_commit", []).append(callback)


def _after_commit(session: Session, jobs: JobQueue | None) -> None:
    specs: list[JobSpec] = session.info.pop("jobs", [])
    session.info.pop("on_rollback", None)
    _run_all(session.info.pop("on_commit", []), "post-commit clean-up failed")
    if not specs:
        return
    jobs = jobs or get_job_queue()
    for spec in specs:
        try:
            jobs.enqueue(spec)
        except Exception:
            # The row is committed as pending: the reconciler enqueues it later.
            log.exception("enqueue of %s failed; the reconciler will retry", spec.job_id)


def _after_rollback(session: Session) -> None:
    session.info.pop("jobs", None)
    session.info.pop("on_commit", None)
    _run_all(session.info.pop("on_rollback", []), "rollback clean-up failed")


def _run_all(callbacks: list[Callable[[], object]], failure: str) -> None:
    """Run every callback; one that fails is logged and does not stop the others."""
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception(failure)
