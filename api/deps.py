"""Request dependencies of the infrastructure: the session, Redis, storage, the job queue
and the list cursor. Who is calling is auth's (`api.auth.deps`). Tests swap them with
`app.dependency_overrides`."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query
from redis import Redis
from sqlmodel import Session

from core.db import begin_snapshot, session_scope
from core.queue import JobQueue, get_job_queue
from core.redis import get_redis
from core.storage import Storage, get_storage

QueueDep = Annotated[JobQueue, Depends(get_job_queue)]
Cursor = Annotated[
    str | None,
    Query(max_length=200, description="the previous page's `next_cursor`; none: the first page"),
]
"""Every list is paged by cursor (`api.pagination`)."""
RedisDep = Annotated[Redis, Depends(get_redis)]
StorageDep = Annotated[Storage, Depends(get_storage)]


def get_session(jobs: QueueDep) -> Iterator[Session]:
    """Commits when the endpoint returns, rolls back on error, then enqueues what it deferred."""
    with session_scope(jobs) as session:
        yield session


# scope="function": commit before the response is sent, so a client never sees
# a 2xx for a transaction that then failed.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_snapshot(session: SessionDep) -> Session:
    """The request's session, reading as of one moment, read-only: for a page and its
    count, or progress figures that must add up. It must be the endpoint's first
    parameter, so that it begins the session before authentication reads with it."""
    begin_snapshot(session)
    return session


SnapshotDep = Annotated[Session, Depends(get_snapshot)]
