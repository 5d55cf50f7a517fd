"""Jobs are enqueued only after a commit, and a rollback undoes stored files."""

import pytest
from redis import Redis
from sqlmodel import Session

from core import queue
from core.db import session_scope
from core.models import Photo
from core.storage import get_storage
from tests.helpers import create_event, create_user, image_bytes


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
