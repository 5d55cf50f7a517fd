"""Lost work is found in the database and enqueued again, once."""

import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import psutil
import pytest
from fastapi.testclient import TestClient
from redis import Redis
from sqlmodel import Session

from api.reconciler import service as reconcile_module
from api.reconciler.service import reconcile
from core import queue
from core.config import settings
from core.models import Event, Selfie, utcnow
from devtools.local import stop_group
from tests.helpers import create_event, create_photo, create_user, register_attendee

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
    from core.models import Attendee

    event = create_event(session, owner=create_user(session))
    user = create_user(session, role="attendee")
    attendee = Attendee(
        user_id=user.id,
        event_id=event.id,
        consented_at=utcnow(),
        consent_policy_version=settings.CONSENT_POLICY_VERSION,
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
    from core.db import get_engine

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


def test_lost_work_behind_a_full_batch_of_queued_work_is_found(
    session: Session, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A big upload keeps thousands of stale rows queued; a lost one behind them still counts.
    monkeypatch.setattr(reconcile_module, "BATCH", 2)
    event = create_event(session, owner=create_user(session))
    queued = [_photo(session, event, status="pending", age=STALE * 3) for _ in range(4)]
    lost = _photo(session, event, status="pending", age=STALE * 2)
    jobs = queue.JobQueue(redis)
    for photo in queued:
        jobs.enqueue(queue.index_photo(photo.id))
    report = reconcile(session, jobs, stale_after=STALE)
    assert report.enqueued == [queue.index_photo(lost.id).job_id]
    assert jobs.depths()["photos"] == 5


def _started_job(redis: Redis, services: Path) -> tuple[subprocess.Popen[bytes], str]:
    """A real worker running a long job: (the worker, the job's id)."""
    from rq import Retry
    from rq.job import Job, JobStatus
    from rq.serializers import JSONSerializer

    job_id = "sleep-for-the-test"
    queue.JobQueue(redis).queues[queue.MAINTENANCE].enqueue_call(
        "time.sleep", args=(120,), job_id=job_id, timeout=300, retry=Retry(max=3, interval=10)
    )
    worker = subprocess.Popen(
        [sys.executable, "-m", "workers", "--queues", queue.MAINTENANCE, "--log-level", "WARNING"],
        env=dict(os.environ, FACEMATCH_DATA_DIR=str(services)),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = Job.fetch(job_id, connection=redis, serializer=JSONSerializer)
        if job.get_status() == JobStatus.STARTED:
            return worker, job_id
        time.sleep(0.2)
    stop_group(worker, signal.SIGKILL)
    raise AssertionError("the worker never started the job")


def test_a_job_that_died_with_its_worker_is_run_again_without_waiting_for_rq(
    services: Path, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rq.job import Job, JobStatus
    from rq.serializers import JSONSerializer

    worker, job_id = _started_job(redis, services)
    try:
        horses = psutil.Process(worker.pid).children()
        jobs = queue.JobQueue(redis)
        assert jobs.is_active(job_id) and jobs.release_abandoned() == []
        worker.kill()  # the pod is gone: its work horse goes with it
        worker.wait()
        assert horses and psutil.wait_procs(horses, timeout=10)[1] == []
    finally:
        stop_group(worker, signal.SIGKILL)

    # RQ would count the job abandoned 65 s or more after its last beat, in some live
    # worker's maintenance; the reconciler does after ABANDONED_SECONDS.
    monkeypatch.setattr(queue, "ABANDONED_SECONDS", 1)
    assert Job.fetch(job_id, connection=redis, serializer=JSONSerializer).get_status() == (
        JobStatus.STARTED
    )
    time.sleep(1.5)
    assert not jobs.is_active(job_id)
    assert jobs.release_abandoned() == [job_id]
    job = Job.fetch(job_id, connection=redis, serializer=JSONSerializer)
    assert job.get_status() == JobStatus.QUEUED  # its retry, at once: it has waited enough
    assert job.retries_left == 2
    assert jobs.depths()[queue.MAINTENANCE] == 1
    assert jobs.release_abandoned() == []


def test_the_api_process_runs_no_reconciler() -> None:
    code = "import sys, api.main; print('api.reconciler.service' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.split()[-1] == "False", result.stderr


def test_the_reconciler_process_reconciles_beats_and_stops_on_sigterm(
    services: Path, session: Session, redis: Redis, tmp_path: Path
) -> None:
    event = create_event(session, owner=create_user(session))
    lost = _photo(session, event, status="pending", age=timedelta(minutes=5))
    heartbeat = tmp_path / "heartbeat"
    env = dict(
        os.environ,
        FACEMATCH_DATA_DIR=str(services),
        FACEMATCH_RECONCILE_INTERVAL_SECONDS="1",
        FACEMATCH_RECONCILER_HEARTBEAT_FILE=str(heartbeat),
    )

    def probe() -> int:
        argv = [sys.executable, "-m", "core.heartbeat", str(heartbeat), "30"]
        return subprocess.run(argv, timeout=30).returncode

    assert probe() == 1
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "reconcile", "--forever"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        jobs = queue.JobQueue(redis)
        deadline = time.monotonic() + 60
        # The job is enqueued during the pass, the pass counted once it commits.
        while not (
            jobs.is_active(queue.index_photo(lost.id).job_id)
            and redis.hget("facematch:metrics:reconciler", "passes")
        ):
            assert time.monotonic() < deadline, "the reconciler never enqueued the lost photo"
            time.sleep(0.2)
        assert probe() == 0
        assert int(redis.hget("facematch:metrics:reconciler", "enqueued") or 0) == 1
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=10)
    finally:
        stop_group(process, signal.SIGKILL)
        process.communicate()
    assert process.returncode == 0
    assert b"reconciler stopped" in output


def test_a_lost_recomputation_after_deleted_face_data_is_enqueued_until_its_job_has_run(
    client: TestClient, session: Session, redis: Redis
) -> None:
    """The deletion owes the job in the database: Redis losing it loses nothing."""
    import uuid

    from core.models import ForgetOwed
    from workers import tasks

    event = create_event(session, owner=create_user(session))
    attendee = register_attendee(client, event.code)
    attendee_id = uuid.UUID(attendee["attendee_id"])
    session.add(Selfie(attendee_id=attendee_id, event_id=event.id, status="valid",
                       encoding=[0.0] * 128))  # fmt: skip
    session.commit()
    assert client.delete("/api/me/face-data", headers=attendee["headers"]).status_code == 200
    jobs = queue.JobQueue(redis)
    job_id = queue.forget_attendee(attendee_id).job_id
    assert jobs.is_active(job_id)
    redis.flushdb()  # the job is lost

    assert reconcile(session, jobs, stale_after=STALE).enqueued == [], "not stale yet"
    session.rollback()
    assert reconcile(session, jobs, stale_after=timedelta(0)).enqueued == [job_id]
    session.commit()
    assert tasks.forget_attendee(str(attendee_id)) == {
        "attendee_id": str(attendee_id),
        "matches": 0,
    }
    session.expire_all()
    assert session.get(ForgetOwed, attendee_id) is None
    redis.flushdb()
    assert reconcile(session, jobs, stale_after=timedelta(0)).enqueued == []


def test_an_idle_open_event_closes_by_itself_and_a_busy_one_stays_open(
    session: Session, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "AUTO_CLOSE_DAYS", 14)
    owner = create_user(session)
    old = utcnow() - timedelta(days=15)
    idle, busy, patient = (create_event(session, owner=owner, name=n) for n in "abc")
    for event in (idle, busy, patient):
        event.created_at = old
    patient.auto_close_days = 30
    create_photo(session, event=idle, created_at=old)
    create_photo(session, event=busy, created_at=old)
    create_photo(session, event=busy)  # an upload today
    session.commit()
    reconcile(session, queue.JobQueue(redis), stale_after=STALE)
    session.commit()
    for event in (idle, busy, patient):
        session.refresh(event)
    assert [e.status for e in (idle, busy, patient)] == ["closed", "open", "open"]
    assert idle.closed_at is not None
    monkeypatch.setattr(settings, "AUTO_CLOSE_DAYS", None)
    busy.created_at = patient.created_at = utcnow() - timedelta(days=400)
    session.commit()
    reconcile(session, queue.JobQueue(redis), stale_after=STALE)
    session.commit()
    session.refresh(patient)
    assert patient.status == "closed", "its own days still count"
