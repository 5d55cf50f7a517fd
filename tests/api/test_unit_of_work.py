"""Jobs are enqueued only after a commit, and a rollback undoes stored files."""

import pytest
from redis import Redis
from sqlmodel import Session

from core import queue
from core.db import session_scope
from core.models import Photo
from core.storage import get_storage
from tests.helpers import create_event, create_photo, create_user, image_bytes


def test_a_rolled_back_transaction_enqueues_nothing_and_deletes_its_files(
    session: Session, redis: Redis
) -> None:
    from api.photos.service import store_photo

    event = create_event(session, owner=create_user(session))
    storage = get_storage()
    with pytest.raises(RuntimeError), session_scope() as scoped:
        photo, _ = store_photo(scoped, storage, event, "a.jpg", image_bytes())
        key = photo.storage_key
        assert storage.exists(key)
        raise RuntimeError("the request failed after storing")
    assert not storage.exists(key)
    assert set(queue.JobQueue(redis).depths().values()) == {0}
    assert session.get(Photo, photo.id) is None


def test_a_committed_transaction_enqueues_its_jobs(session: Session, redis: Redis) -> None:
    from api.photos.service import store_photo

    event = create_event(session, owner=create_user(session))
    with session_scope() as scoped:
        photo, _ = store_photo(scoped, get_storage(), event, "a.jpg", image_bytes())
        assert queue.JobQueue(redis).depths()["photos"] == 0
    assert queue.JobQueue(redis).is_active(queue.index_photo(photo.id).job_id)


def test_enqueueing_the_same_entity_twice_queues_one_job(redis: Redis) -> None:
    jobs = queue.JobQueue(redis)
    spec = queue.index_photo(__import__("uuid").uuid4())
    first = jobs.enqueue(spec)
    second = jobs.enqueue(spec)
    assert first.id == second.id == spec.job_id
    assert jobs.depths()["photos"] == 1
    assert first.timeout == queue.INDEX_PHOTO_TIMEOUT
    assert first.retries_left == len(queue.RETRY_INTERVALS)


def test_a_snapshot_reads_one_moment_refuses_writes_and_must_come_first(
    session: Session,
) -> None:
    from sqlalchemy import text
    from sqlalchemy.exc import InternalError
    from sqlmodel import func, select

    from core.db import begin_snapshot

    event = create_event(session, owner=create_user(session))
    count = select(func.count()).select_from(Photo).where(Photo.event_id == event.id)
    with session_scope() as scoped:
        begin_snapshot(scoped)
        assert scoped.exec(count).one() == 0
        create_photo(session, event=event)  # committed by another connection
        assert scoped.exec(count).one() == 0, "still the snapshot's moment"
    with pytest.raises(InternalError, match="read-only transaction"), session_scope() as scoped:
        begin_snapshot(scoped)
        scoped.execute(text("UPDATE events SET name = 'changed' WHERE id = :id"), {"id": event.id})
    too_late = pytest.raises(RuntimeError, match="before the session's first read")
    with too_late, session_scope() as scoped:
        scoped.exec(count).one()
        begin_snapshot(scoped)
    with session_scope() as scoped:
        assert scoped.exec(count).one() == 1, "a session without a snapshot sees the commit"
