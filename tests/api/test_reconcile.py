"""Lost work is found in the database and enqueued again, once."""

from datetime import timedelta

from redis import Redis
from sqlmodel import Session

from api import queue
from api.models import Event, Selfie, utcnow
from api.reconcile import reconcile
from tests.helpers import create_event, create_photo, create_user

STALE = timedelta(minutes=10)


def _photo(session: Session, event: Event, *, status: str, attempts: int = 0, age=STALE * 2):  # type: ignore[no-untyped-def]
    return create_photo(
        session, event=event, status=status, attempts=attempts, updated_at=utcnow() - age
    )


def test_a_photo_stuck_indexing_after_a_killed_worker_is_enqueued_again(
    session: Session, redis: Redis
) -> None:
    event = create_event(session, owner=create_user(session))
    stuck = _photo(session, event, status="indexing", attempts=1)
    fresh = _photo(session, event, status="pending", age=timedelta(seconds=5))
    done = _photo(session, event, status="indexed")
    jobs = queue.JobQueue(redis)
    report = reconcile(session, jobs, stale_after=STALE)
    session.commit()
    assert report.enqueued == [queue.index_photo(stuck.id).job_id]
    assert jobs.is_active(queue.index_photo(stuck.id).job_id)
    assert not jobs.is_active(queue.index_photo(fresh.id).job_id)
    assert not jobs.is_active(queue.index_photo(done.id).job_id)


def test_work_already_queued_is_not_doubled(session: Session, redis: Redis) -> None:
    event = create_event(session, owner=create_user(session))
    photo = _photo(session, event, status="pending")
    jobs = queue.JobQueue(redis)
    jobs.enqueue(queue.index_photo(photo.id))
    assert reconcile(session, jobs, stale_after=STALE).enqueued == []
    assert jobs.depths()["photos"] == 1


def test_a_photo_that_keeps_killing_workers_is_marked_failed(
    session: Session, redis: Redis
) -> None:
    event = create_event(session, owner=create_user(session))
    photo = _photo(session, event, status="indexing", attempts=3)
    report = reconcile(session, queue.JobQueue(redis), stale_after=STALE, max_attempts=3)
    session.commit()
    session.refresh(photo)
    assert report.gave_up == [queue.index_photo(photo.id).job_id]
    assert photo.status == "failed"
    assert "3 attempts" in photo.error


def test_lost_selfies_and_owed_rematches_are_enqueued(session: Session, redis: Redis) -> None:
    from api.models import Attendee

    event = create_event(session, owner=create_user(session))
    user = create_user(session, role="attendee")
    attendee = Attendee(
        user_id=user.id, event_id=event.id, consented_at=utcnow(), consent_policy_version="t"
    )
    session.add(attendee)
    session.commit()
    selfie = Selfie(attendee_id=attendee.id, event_id=event.id, updated_at=utcnow() - STALE * 2)
    event.rematch_requested_at = utcnow() - STALE * 2
    session.add_all([selfie, event])
    session.commit()
    report = reconcile(session, queue.JobQueue(redis), stale_after=STALE)
    assert sorted(report.enqueued) == sorted(
        [queue.validate_selfie(selfie.id).job_id, queue.rematch_event(event.id).job_id]
    )


def test_only_one_reconciler_runs_at_a_time(session: Session, redis: Redis) -> None:
    from api.db import get_engine

    with Session(get_engine()) as other:
        assert not reconcile(other, queue.JobQueue(redis)).skipped_locked
        assert reconcile(session, queue.JobQueue(redis)).skipped_locked
        other.rollback()
    assert not reconcile(session, queue.JobQueue(redis)).skipped_locked


def _retry_at(redis: Redis, spec: queue.JobSpec, due: timedelta) -> None:
    """The job as RQ leaves it after a failed attempt: in the scheduled registry, due
    `due` from now, with no scheduler running to move it."""
    from datetime import UTC, datetime

    jobs = queue.JobQueue(redis)
    jobs.queues[spec.queue].enqueue_at(
        datetime.now(UTC) + due, spec.func, *spec.args, job_id=spec.job_id
    )


def test_an_overdue_retry_whose_scheduler_died_is_moved_to_its_queue(
    session: Session, redis: Redis
) -> None:
    from rq.job import Job, JobStatus
    from rq.serializers import JSONSerializer

    event = create_event(session, owner=create_user(session))
    photo = _photo(session, event, status="indexing", attempts=1, age=timedelta(seconds=30))
    spec = queue.index_photo(photo.id)
    _retry_at(redis, spec, -timedelta(seconds=queue.OVERDUE_SECONDS + 5))
    jobs = queue.JobQueue(redis)
    assert not jobs.is_active(spec.job_id)  # RQ would not run it: nothing schedules it

    # Not stale yet by the rows' clock: the registry sweep finds it all the same.
    report = reconcile(session, jobs, stale_after=STALE)
    assert report.enqueued == [spec.job_id]
    job = Job.fetch(spec.job_id, connection=redis, serializer=JSONSerializer)
    assert job.get_status() == JobStatus.QUEUED
    assert jobs.depths()["photos"] == 1
    # A second pass, and a stale row, double nothing.
    assert reconcile(session, jobs, stale_after=timedelta(seconds=1)).enqueued == []
    assert jobs.depths()["photos"] == 1


def test_a_retry_not_yet_due_is_left_to_the_scheduler(session: Session, redis: Redis) -> None:
    from rq.registry import ScheduledJobRegistry

    event = create_event(session, owner=create_user(session))
    photo = _photo(session, event, status="indexing", attempts=1)
    spec = queue.index_photo(photo.id)
    _retry_at(redis, spec, timedelta(seconds=30))
    jobs = queue.JobQueue(redis)
    assert jobs.is_active(spec.job_id)
    assert reconcile(session, jobs, stale_after=STALE).enqueued == []
    assert spec.job_id in ScheduledJobRegistry(queue=jobs.queues["photos"]).get_job_ids()
    assert jobs.depths()["photos"] == 0
