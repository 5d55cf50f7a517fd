"""An event of 1,000 photos is deleted whole, though its worker is killed midway."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from redis import Redis
from sqlalchemy import func
from sqlmodel import Session, select

from api.reconciler.service import reconcile
from core import queue
from core.config import settings
from core.db import session_scope
from core.models import Attendee, Event, Face, Match, Photo, Role, Selfie, User, utcnow
from core.storage import event_folder, get_storage, preview_key
from tests.helpers import create_event, create_user, traces_of_event

PHOTOS = 1000


def _big_event(session: Session) -> tuple[Event, list[uuid.UUID]]:
    """1,000 indexed photos with their files, a preview each and a face each; three
    attendees with a selfie image each and a match each; 50 photos' jobs still queued."""
    event = create_event(session, owner=create_user(session))
    storage = get_storage()
    photos = [
        Photo(
            event_id=event.id,
            storage_key="",
            filename=f"{n}.jpg",
            content_type="image/jpeg",
            bytes=4,
            width=1,
            height=1,
            status="indexed",
        )
        for n in range(PHOTOS)
    ]
    for photo in photos:
        photo.storage_key = f"{event_folder(event.id)}photos/{photo.id}.jpg"
        storage.put(photo.storage_key, b"\xff\xd8\xff\xd9")
        storage.put(preview_key(event.id, photo.id, "thumb"), b"thumb")
    session.add_all(photos)
    session.flush()
    faces = [Face(photo_id=p.id, event_id=event.id, top=0, right=9, bottom=9, left=0,
                  encoding=[0.0] * 128, detected_width=1, detected_height=1, size_px=9,
                  quality=0.5) for p in photos]  # fmt: skip
    session.add_all(faces)
    ids = [p.id for p in photos]
    for n in range(3):
        user = User(email=f"runner{n}@example.com", role=Role.attendee, hashed_password="!")
        session.add(user)
        session.flush()
        attendee = Attendee(user_id=user.id, event_id=event.id, consented_at=utcnow(),
                            consent_policy_version=settings.CONSENT_POLICY_VERSION)  # fmt: skip
        session.add(attendee)
        session.flush()
        key = f"{event_folder(event.id)}selfies/{uuid.uuid4()}.jpg"
        selfie = Selfie(attendee_id=attendee.id, event_id=event.id, status="valid",
                        encoding=[0.0] * 128, storage_key=key)  # fmt: skip
        storage.put(key, b"selfie")
        session.add(selfie)
        session.add(Match(attendee_id=attendee.id, photo_id=photos[n].id, face_id=faces[n].id,
                          event_id=event.id, distance=0.3))  # fmt: skip
        ids += [user.id, attendee.id, selfie.id]
    session.commit()
    return event, ids


def _worker(services: Path, **env: str) -> subprocess.Popen[bytes]:
    """A real worker of the maintenance queue, in its own process group (with its horse)."""
    return subprocess.Popen(
        [sys.executable, "-m", "workers", "--burst", "--queues", queue.MAINTENANCE],
        env=dict(os.environ, FACEMATCH_DATA_DIR=str(services), **env),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )


def _photos_left(session: Session, event_id: uuid.UUID) -> int:
    count = session.exec(select(func.count()).where(Photo.event_id == event_id)).one()
    session.rollback()  # a fresh snapshot next time
    return int(count)


def test_an_event_of_1000_photos_is_deleted_whole_though_its_worker_is_killed_midway(
    services: Path, session: Session, redis: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api.events.service import request_deletion

    event, ids = _big_event(session)
    jobs = queue.JobQueue(redis)
    for photo_id in ids[:50]:
        jobs.enqueue(queue.index_photo(photo_id))
    with session_scope() as scope:  # as DELETE /api/events/{id} does
        request_deletion(scope, scope.get(Event, event.id), "photographer:test")  # type: ignore[arg-type]
    assert jobs.is_active(queue.delete_event(event.id).job_id)

    # Small batches, so that the kill lands between two of them.
    worker = _worker(services, FACEMATCH_DELETE_BATCH_PHOTOS="10")
    deadline = time.monotonic() + 120
    while _photos_left(session, event.id) > PHOTOS - 100:
        assert worker.poll() is None, (worker.stderr.read() if worker.stderr else b"")[-3000:]
        assert time.monotonic() < deadline, "the deletion never started"
        time.sleep(0.01)
    os.killpg(worker.pid, signal.SIGKILL)  # the worker and its work horse, mid-deletion
    worker.communicate()
    left = _photos_left(session, event.id)
    assert 0 < left < PHOTOS, "killed midway"
    assert session.get(Event, event.id) is not None
    assert get_storage().keys(event_folder(event.id)), "files of the photos left, too"

    # The reconciler finds the job's worker silent and hands the job back to its queue.
    monkeypatch.setattr(queue, "ABANDONED_SECONDS", 0)
    report = reconcile(session, jobs, stale_after=timedelta(0))
    session.commit()
    assert queue.delete_event(event.id).job_id in report.enqueued
    finisher = _worker(services)
    _, stderr = finisher.communicate(timeout=300)
    assert finisher.returncode == 0, stderr[-3000:]

    assert traces_of_event(session, redis, event.id, *ids) == {
        "rows": {}, "files": [], "redis": []
    }  # fmt: skip
