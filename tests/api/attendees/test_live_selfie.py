"""A live selfie end to end: the challenge, the frames, the worker's verdict."""

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from sqlmodel import Session, select

from core.config import settings
from core.models import AuditEntry, Match, Selfie
from tests.helpers import (
    create_event,
    create_photo,
    create_user,
    face_photo,
    image_bytes,
    live_frames,
    mailed_link,
    redeem,
    register_attendee,
    run_jobs,
    upload_selfie,
)
from workers import tasks

TWO_PEOPLE = "ageitgey_face_recognition/examples/two_people.jpg"


def _challenge(client: TestClient, headers: dict[str, str]) -> dict:  # type: ignore[type-arg]
    response = client.post("/api/me/live-challenges", headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


def _send(client: TestClient, headers: dict[str, str], challenge_id: str, frames: list[bytes]):  # type: ignore[no-untyped-def]
    files = [("frames", (f"{i}.jpg", frame, "image/jpeg")) for i, frame in enumerate(frames)]
    return client.post("/api/me/live-selfie", data={"challenge_id": challenge_id}, files=files,
                       headers=headers)  # fmt: skip


def _selfie_state(client: TestClient, headers: dict[str, str]) -> dict:  # type: ignore[type-arg]
    return client.get("/api/me/selfie", headers=headers).json()


@pytest.mark.faces
def test_a_live_selfie_is_judged_matched_and_its_frames_deleted(
    faces_dir: Path, client: TestClient, session: Session, redis: Redis
) -> None:
    event = create_event(session, owner=create_user(session))
    photo = create_photo(session, event=event, data=face_photo(TWO_PEOPLE))
    tasks.index_photo(str(photo.id))
    attendee = register_attendee(client, event.code)
    challenge = _challenge(client, attendee["headers"])
    assert challenge["steps"][0] == "straight"
    assert sorted(challenge["steps"][1:]) == ["left", "right"]
    response = _send(client, attendee["headers"], challenge["challenge_id"],
                     live_frames(challenge["steps"]))  # fmt: skip
    assert response.status_code == 202, response.text
    run_jobs(redis, "selfies")
    assert _selfie_state(client, attendee["headers"])["status"] == "valid"
    matches = session.exec(select(Match).where(Match.attendee_id == attendee["attendee_id"]))
    assert [m.photo_id for m in matches] == [photo.id]
    selfie = session.exec(select(Selfie).where(Selfie.attendee_id == attendee["attendee_id"])).one()
    assert selfie.steps == challenge["steps"] and selfie.storage_key is None
    assert not list(settings.storage_root.rglob("*.frames.zip")), "no frame is kept once judged"
    stored = session.exec(select(AuditEntry).where(AuditEntry.action == "selfie_image.stored"))
    assert [a.count for a in stored] == [3]


@pytest.mark.faces
def test_a_still_sent_for_every_step_is_rejected_with_what_to_do(
    faces_dir: Path, client: TestClient, session: Session, redis: Redis
) -> None:
    event = create_event(session, owner=create_user(session))
    attendee = register_attendee(client, event.code)
    challenge = _challenge(client, attendee["headers"])
    straight = live_frames(["straight"])[0]
    assert _send(client, attendee["headers"], challenge["challenge_id"],
                 [straight] * 3).status_code == 202  # fmt: skip
    run_jobs(redis, "selfies")
    state = _selfie_state(client, attendee["headers"])
    assert state["status"] == "rejected"
    turn = challenge["steps"][1]
    assert state["reason"] == f"turn_{turn}"
    assert f"turn your head to your {turn}" in state["detail"]


def test_a_challenge_is_spent_once_by_its_own_session_before_it_expires(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    event = create_event(session, owner=create_user(session))
    attendee = register_attendee(client, event.code, email="ann@example.com")
    frames = [image_bytes()] * 3
    used = _challenge(client, attendee["headers"])
    assert _send(client, attendee["headers"], used["challenge_id"], frames).status_code == 202
    again = _send(client, attendee["headers"], used["challenge_id"], frames)
    assert (again.status_code, again.json()["code"]) == (409, "challenge_invalid")

    # The same account signed in on another device: its own session, not this challenge.
    client.post("/api/sign-in-link", json={"email": "ann@example.com", "event_code": event.code})
    other_device = redeem(client, mailed_link("ann@example.com", count=2))
    mine = _challenge(client, attendee["headers"])
    stolen = _send(client, other_device["headers"], mine["challenge_id"], frames)
    assert (stolen.status_code, stolen.json()["code"]) == (409, "challenge_invalid")

    monkeypatch.setattr(settings, "LIVE_CHALLENGE_SECONDS", 1)
    late = _challenge(client, attendee["headers"])
    time.sleep(1.5)
    expired = _send(client, attendee["headers"], late["challenge_id"], frames)
    assert (expired.status_code, expired.json()["code"]) == (409, "challenge_invalid")
    selfies = session.exec(select(Selfie).where(Selfie.attendee_id == attendee["attendee_id"]))
    assert len(selfies.all()) == 1


def test_frames_that_do_not_fit_the_challenge_are_400_and_store_nothing(
    client: TestClient, session: Session
) -> None:
    event = create_event(session, owner=create_user(session))
    attendee = register_attendee(client, event.code)
    headers = attendee["headers"]
    short = _send(client, headers, _challenge(client, headers)["challenge_id"], [image_bytes()] * 2)
    assert (short.status_code, short.json()["code"]) == (400, "frames_mismatch")
    junk = _send(client, headers, _challenge(client, headers)["challenge_id"],
                 [image_bytes(), b"not an image", image_bytes()])  # fmt: skip
    assert junk.status_code == 422
    assert session.exec(select(Selfie)).all() == []
    assert not list(settings.storage_root.rglob("*.frames.zip"))


def test_an_event_that_wants_a_live_capture_refuses_a_file_with_409(
    client: TestClient, session: Session
) -> None:
    owner = create_user(session)
    event = create_event(session, owner=owner)
    attendee = register_attendee(client, event.code)
    event.selfie_upload = False
    session.add(event)
    session.commit()
    response = upload_selfie(client, attendee["headers"])
    assert response.status_code == 409
    assert response.json()["code"] == "live_capture_required"
    assert session.exec(select(Selfie)).all() == []
    assert _challenge(client, attendee["headers"])["steps"][0] == "straight"


def test_selfie_attempts_are_limited_per_attendee_with_retry_after(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(settings, "SELFIE_ATTEMPTS_PER_HOUR_PER_ATTENDEE", 2)
    event = create_event(session, owner=create_user(session))
    attendee = register_attendee(client, event.code)
    other = register_attendee(client, event.code)
    for _ in range(2):
        _challenge(client, attendee["headers"])
    refused = client.post("/api/me/live-challenges", headers=attendee["headers"])
    assert (refused.status_code, refused.json()["code"]) == (429, "rate_limited")
    assert 0 < int(refused.headers["Retry-After"]) <= 3600
    assert upload_selfie(client, attendee["headers"]).status_code == 429, "files count too"
    assert _challenge(client, other["headers"]), "another attendee is not limited"
