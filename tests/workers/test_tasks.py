"""Jobs run for real with RQ's SimpleWorker against the embedded services."""

import functools
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pytest
from redis import Redis
from sqlalchemy import text
from sqlmodel import Session, select

from api.attendees import service as attendee_service
from api.attendees.schemas import FaceDataDeleted
from core import queue
from core.config import settings
from core.db import get_engine, session_scope
from core.models import Attendee, Event, Face, Match, Photo, Selfie, SelfieStatus, utcnow
from core.storage import get_storage
from tests.helpers import (
    create_event,
    create_photo,
    create_user,
    face_photo,
    image_bytes,
    run_jobs,
    session_token,
)
from workers import matching, tasks

T = TypeVar("T")
TWO_PEOPLE = "ageitgey_face_recognition/examples/two_people.jpg"
OBAMA_2 = "ageitgey_face_recognition/examples/obama2.jpg"


def add_photo(session: Session, event: Event, data: bytes, *, status: str = "pending") -> Photo:
    return create_photo(session, event=event, data=data, status=status)


def add_attendee(session: Session, event: Event) -> Attendee:
    user = create_user(session, role="attendee")
    attendee = Attendee(
        user_id=user.id,
        event_id=event.id,
        consented_at=utcnow(),
        consent_policy_version=settings.CONSENT_POLICY_VERSION,
    )
    session.add(attendee)
    session.commit()
    return attendee


def obama_matched_in_two_people(session: Session) -> tuple[Event, Photo, Attendee]:
    """An indexed two_people.jpg and an attendee whose obama selfie matched it."""
    event = create_event(session, owner=create_user(session))
    photo = add_photo(session, event, face_photo(TWO_PEOPLE))
    tasks.index_photo(str(photo.id))
    attendee = add_attendee(session, event)
    tasks.validate_selfie(str(add_selfie(session, attendee, face_photo(OBAMA_2)).id))
    return event, photo, attendee


def add_selfie(session: Session, attendee: Attendee, data: bytes) -> Selfie:
    selfie = Selfie(attendee_id=attendee.id, event_id=attendee.event_id)
    selfie.storage_key = f"selfies/{selfie.id}.jpg"
    get_storage().put(selfie.storage_key, data)
    session.add(selfie)
    session.commit()
    return selfie


def test_a_photo_without_faces_is_indexed_with_zero_and_never_reprocessed(
    session: Session, redis: Redis
) -> None:
    event = create_event(session, owner=create_user(session))
    photo = add_photo(session, event, image_bytes(size=(640, 480)))
    assert tasks.index_photo(str(photo.id))["faces"] == 0
    assert tasks.index_photo(str(photo.id)) == {"photo_id": str(photo.id), "skipped": True}
    session.refresh(photo)
    assert (photo.status, photo.face_count, photo.attempts) == ("indexed", 0, 1)


def test_a_corrupt_stored_photo_fails_with_its_reason(session: Session, redis: Redis) -> None:
    event = create_event(session, owner=create_user(session))
    photo = add_photo(session, event, b"garbage that passed no check")
    tasks.index_photo(str(photo.id))
    session.refresh(photo)
    assert photo.status == "failed"
    assert photo.error.startswith("not_an_image")


def test_a_job_for_a_deleted_photo_does_nothing_and_succeeds(session: Session) -> None:
    """Its photographer deleted it before its turn: no error, so no retry and no failed job."""
    result = tasks.index_photo("00000000-0000-0000-0000-000000000000")
    assert result == {"photo_id": "00000000-0000-0000-0000-000000000000", "skipped": True}


@pytest.mark.faces
def test_reindexing_after_a_killed_worker_replaces_faces_without_duplicates(
    faces_dir: Path,
    session: Session,
    redis: Redis,
) -> None:
    event = create_event(session, owner=create_user(session))
    photo = add_photo(session, event, face_photo(TWO_PEOPLE))
    tasks.index_photo(str(photo.id))
    first = sorted(f.left for f in session.exec(select(Face)).all())
    # A worker killed after its commit but before RQ knew: the row says indexing again.
    photo = session.get(Photo, photo.id)
    photo.status = "indexing"
    session.add(photo)
    session.commit()
    tasks.index_photo(str(photo.id))
    session.expire_all()
    assert sorted(f.left for f in session.exec(select(Face)).all()) == first
    assert len(first) == 2
    assert session.get(Photo, photo.id).face_count == 2


@pytest.mark.faces
def test_selfie_then_photo_matches_in_either_order(
    faces_dir: Path,
    session: Session,
    redis: Redis,
) -> None:
    event = create_event(session, owner=create_user(session))
    early = add_photo(session, event, face_photo(TWO_PEOPLE))
    tasks.index_photo(str(early.id))
    attendee = add_attendee(session, event)
    selfie = add_selfie(session, attendee, face_photo(OBAMA_2))
    assert tasks.validate_selfie(str(selfie.id))["matches"] == 1
    late = add_photo(session, event, face_photo(TWO_PEOPLE))
    assert tasks.index_photo(str(late.id))["matches"] == 1
    matches = session.exec(select(Match).where(Match.attendee_id == attendee.id)).all()
    assert {m.photo_id for m in matches} == {early.id, late.id}
    session.refresh(selfie)
    assert selfie.status == "valid"
    assert np.asarray(selfie.encoding).shape == (128,)


def while_photo_job_holds(
    monkeypatch: pytest.MonkeyPatch, photo: Photo, other: Callable[[], T]
) -> tuple[dict[str, Any], T]:
    """Index the photo in a thread, holding its transaction open once it has matched,
    and run `other` in another thread meanwhile. The photo's job is released once
    `other` is done or waits on a lock. Returns both results."""
    photo_matched, release = threading.Event(), threading.Event()
    match_photo = matching.match_photo

    def match_then_hold(*args: Any) -> int:
        matched = match_photo(*args)
        photo_matched.set()
        release.wait(60)
        return matched

    monkeypatch.setattr(matching, "match_photo", match_then_hold)
    with ThreadPoolExecutor(2) as pool, Session(get_engine()) as watcher:
        indexing = pool.submit(tasks.index_photo, str(photo.id))
        assert photo_matched.wait(60)
        running = pool.submit(other)
        deadline = time.monotonic() + 60
        while not running.done():
            waiting = watcher.execute(
                text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")
            ).scalar_one()
            watcher.rollback()  # a fresh snapshot for the next look
            if waiting:
                break
            assert time.monotonic() < deadline, "it neither finished nor waited"
            time.sleep(0.05)
        release.set()
        return indexing.result(60), running.result(60)


@pytest.mark.faces
def test_a_photo_and_a_selfie_judged_at_the_same_time_still_match(
    faces_dir: Path,
    session: Session,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The photo's job has matched but not committed when the selfie's job matches.

    Each sees only the other's committed rows, so without the event's lock
    neither would make the match.
    """
    event = create_event(session, owner=create_user(session))
    photo = add_photo(session, event, face_photo(TWO_PEOPLE))
    selfie = add_selfie(session, add_attendee(session, event), face_photo(OBAMA_2))

    judge = functools.partial(tasks.validate_selfie, str(selfie.id))
    indexed, judged = while_photo_job_holds(monkeypatch, photo, judge)
    assert indexed["matches"] == 0  # no valid selfie yet when it matched
    assert judged["matches"] == 1  # it saw the committed faces

    session.expire_all()
    assert [m.photo_id for m in session.exec(select(Match)).all()] == [photo.id]


@pytest.mark.faces
def test_face_data_deleted_while_a_photo_is_matched_leaves_no_match(
    faces_dir: Path,
    session: Session,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without the lock the deletion misses the uncommitted match, which then stays."""
    event = create_event(session, owner=create_user(session))
    photo = add_photo(session, event, face_photo(TWO_PEOPLE))
    attendee = add_attendee(session, event)
    tasks.validate_selfie(str(add_selfie(session, attendee, face_photo(OBAMA_2)).id))

    def delete_face_data() -> FaceDataDeleted:
        with session_scope() as own:
            mine = own.get(Attendee, attendee.id)
            assert mine is not None
            return attendee_service.delete_face_data(own, get_storage(), mine)

    indexed, deleted = while_photo_job_holds(monkeypatch, photo, delete_face_data)
    assert indexed["matches"] == 1
    assert deleted.matches == 1  # it waited for the photo's commit, then deleted its match

    session.expire_all()
    assert session.exec(select(Match)).all() == []


@pytest.mark.faces
def test_rematch_follows_the_tolerance_without_redetecting(
    faces_dir: Path,
    session: Session,
    redis: Redis,
) -> None:
    event, _, _ = obama_matched_in_two_people(session)
    assert len(session.exec(select(Match)).all()) == 1
    faces_before = [f.id for f in session.exec(select(Face)).all()]

    event = session.get(Event, event.id)
    event.tolerance = 0.05
    session.add(event)
    session.commit()
    assert tasks.rematch_event(str(event.id))["matches"] == 0
    session.expire_all()
    assert session.exec(select(Match)).all() == []
    assert [f.id for f in session.exec(select(Face)).all()] == faces_before
    assert session.get(Event, event.id).rematched_at is not None


@pytest.mark.faces
def test_a_two_face_selfie_is_rejected_through_the_queue(
    faces_dir: Path,
    session: Session,
    redis: Redis,
) -> None:

    event = create_event(session, owner=create_user(session))
    selfie = add_selfie(session, add_attendee(session, event), face_photo(TWO_PEOPLE))
    queue.JobQueue(redis).enqueue(queue.validate_selfie(selfie.id))
    run_jobs(redis)
    session.refresh(selfie)
    assert (selfie.status, selfie.reason) == ("rejected", "multiple_faces")
    assert selfie.encoding is None


@pytest.mark.faces
def test_not_me_removes_the_match_for_good_even_through_a_rematch(
    faces_dir: Path,
    session: Session,
    redis: Redis,
) -> None:
    from fastapi.testclient import TestClient

    from api.main import create_app
    from core.models import MatchRejection, User

    event, photo, attendee = obama_matched_in_two_people(session)
    token = session_token(session, session.get(User, attendee.user_id), attendee.id)
    headers = {"Authorization": f"Bearer {token}"}
    with TestClient(create_app()) as client:
        assert client.get("/api/me/photos", headers=headers).json()["count"] == 1
        response = client.post(f"/api/me/photos/{photo.id}/not-me", headers=headers)
        assert response.status_code == 204
        assert client.get("/api/me/photos", headers=headers).json()["count"] == 0
        again = client.post(f"/api/me/photos/{photo.id}/not-me", headers=headers)
        assert again.status_code == 404
    run_jobs(redis)
    tasks.rematch_event(str(event.id))
    session.expire_all()
    assert session.exec(select(Match)).all() == []
    assert len(session.exec(select(MatchRejection)).all()) == 1


@pytest.mark.faces
def test_each_face_goes_to_one_attendee_and_margin_drops_ambiguous_faces(
    faces_dir: Path,
    session: Session,
    redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from core.config import settings

    monkeypatch.setattr(settings, "MATCH_MARGIN", 0.0)
    event = create_event(session, owner=create_user(session), tolerance=0.6)
    photo = add_photo(session, event, face_photo(TWO_PEOPLE))
    tasks.index_photo(str(photo.id))
    # Two attendees with the very same selfie: one face, two equally near people.
    first, second = add_attendee(session, event), add_attendee(session, event)
    tasks.validate_selfie(str(add_selfie(session, first, face_photo(OBAMA_2)).id))
    twin = add_selfie(session, second, face_photo(OBAMA_2))
    assert tasks.validate_selfie(str(twin.id))["held"] == str(first.id)
    # Released by the photographer (twins), as api/reviews does: then matched.
    session.refresh(twin)
    twin.status = SelfieStatus.valid
    session.add(twin)
    session.commit()
    tasks.release_selfie(str(twin.id))
    matches = session.exec(select(Match)).all()
    assert len(matches) == 1  # the face went to exactly one of them
    monkeypatch.setattr(settings, "MATCH_MARGIN", 0.05)
    tasks.rematch_event(str(event.id))
    session.expire_all()
    assert session.exec(select(Match)).all() == []  # too close to call: nobody gets it


def _catalogue() -> list[queue.JobSpec]:
    """A spec from every job builder of core/queue.py, whatever its arguments."""
    import inspect

    samples = {"uuid.UUID": uuid.uuid4(), "float": 0.5, "list[uuid.UUID]": [uuid.uuid4()]}
    specs = []
    for name, builder in inspect.getmembers(queue, inspect.isfunction):
        if builder.__module__ != queue.__name__ or name.startswith("_"):
            continue
        signature = inspect.signature(builder)
        if signature.return_annotation != "JobSpec":
            continue
        specs.append(builder(*(samples[p.annotation] for p in signature.parameters.values())))
    return specs


def test_every_job_the_queues_name_resolves_to_a_job_that_takes_its_arguments() -> None:
    """RQ keeps `workers.tasks.<name>` in Redis across deploys: each name core/queue.py
    builds must stay a function of the registry, callable with the spec's arguments."""
    import importlib
    import inspect

    specs = _catalogue()
    jobs = {name for name, value in vars(tasks).items() if inspect.isfunction(value)}
    assert {spec.func.rpartition(".")[2] for spec in specs} == jobs  # none missing, none stray
    for spec in specs:
        module, _, name = spec.func.rpartition(".")
        assert module == "workers.tasks", spec.func
        job = getattr(importlib.import_module(module), name)
        assert inspect.isfunction(job), spec.func
        inspect.signature(job).bind(*spec.args)  # raises if the arguments do not fit
