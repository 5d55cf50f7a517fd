"""A person in the photos who never joined asks, with a live selfie, to be left out."""

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from sqlmodel import Session, select

from core.config import settings
from core.models import AuditEntry, Face, FaceOptOut, Photo
from tests.helpers import (
    create_event,
    create_photo,
    create_user,
    face_photo,
    live_frames,
    run_jobs,
    token_headers,
    traces_of_event,
)
from workers import tasks

pytestmark = pytest.mark.faces
TWO_PEOPLE = "ageitgey_face_recognition/examples/two_people.jpg"


def _opt_out(client: TestClient, code: str, frames_of=live_frames) -> dict:  # type: ignore[no-untyped-def, type-arg]
    challenge = client.post("/api/opt-outs/challenges", json={"event_code": code})
    assert challenge.status_code == 201, challenge.text
    steps = challenge.json()["steps"]
    files = [("frames", (f"{i}.jpg", f, "image/jpeg")) for i, f in enumerate(frames_of(steps))]
    form = {"event_code": code, "challenge_id": challenge.json()["challenge_id"]}
    sent = client.post("/api/opt-outs", files=files, data=form)
    assert sent.status_code == 202, sent.text
    return sent.json()


def _faces(session: Session, photo: Photo) -> int:
    return len(session.exec(select(Face).where(Face.photo_id == photo.id)).all())


def _actions(session: Session) -> dict[str, int]:
    rows = session.exec(select(AuditEntry).where(AuditEntry.action.startswith("opt_out")))  # type: ignore[attr-defined]
    return {row.action: row.count for row in rows}


def test_a_bystander_is_left_out_now_and_of_later_photos_until_the_event_closes(
    faces_dir: Path, client: TestClient, session: Session, redis: Redis
) -> None:
    owner = create_user(session, email="photographer@example.com")
    event = create_event(session, owner=owner)
    before = create_photo(session, event=event, data=face_photo(TWO_PEOPLE))
    tasks.index_photo(str(before.id))
    assert _faces(session, before) == 2, "obama and biden"

    accepted = _opt_out(client, event.code)  # obama, who never joined
    run_jobs(redis, "selfies")
    state = client.get(accepted["status_url"]).json()
    assert (state["status"], state["faces_removed"]) == ("done", 1)
    assert _faces(session, before) == 1, "biden stays"
    assert _actions(session) == {"opt_out.faces_removed": 1}
    assert not list(settings.storage_root.rglob("*.frames.zip")), "no frame kept once judged"

    later = create_photo(session, event=event, data=face_photo(TWO_PEOPLE))
    assert tasks.index_photo(str(later.id))["faces"] == 1, "left out of a later upload too"

    headers = token_headers(client, "photographer@example.com")
    closed = client.patch(f"/api/events/{event.id}", json={"status": "closed"}, headers=headers)
    assert closed.status_code == 200
    (row,) = session.exec(select(FaceOptOut))
    session.refresh(row)
    assert row.encoding is None, "no more uploads: the encoding goes"
    assert _actions(session) == {"opt_out.faces_removed": 1, "opt_out.encoding_deleted": 1}


def test_a_picture_of_a_bystander_removes_nobody(
    faces_dir: Path, client: TestClient, session: Session, redis: Redis
) -> None:
    event = create_event(session, owner=create_user(session))
    photo = create_photo(session, event=event, data=face_photo(TWO_PEOPLE))
    tasks.index_photo(str(photo.id))
    accepted = _opt_out(client, event.code, lambda steps: live_frames(["straight"]) * len(steps))
    run_jobs(redis, "selfies")
    state = client.get(accepted["status_url"]).json()
    assert state["status"] == "rejected" and state["reason"].startswith("turn_")
    assert _faces(session, photo) == 2
    (row,) = session.exec(select(FaceOptOut))
    assert row.encoding is None
    assert _actions(session) == {}


def test_deleting_the_event_leaves_nothing_of_a_pending_opt_out(
    faces_dir: Path, client: TestClient, session: Session, redis: Redis
) -> None:
    owner = create_user(session, email="photographer@example.com")
    event = create_event(session, owner=owner)
    accepted = _opt_out(client, event.code)  # its job is queued, not run
    assert list(settings.storage_root.rglob("*.frames.zip"))
    headers = token_headers(client, "photographer@example.com")
    assert client.delete(f"/api/events/{event.id}", headers=headers).status_code == 202
    run_jobs(redis, "maintenance")
    assert traces_of_event(session, redis, event.id, accepted["opt_out_id"]) == {
        "rows": {},
        "files": [],
        "redis": [],
    }
    assert client.get(accepted["status_url"]).status_code == 404


def test_an_unknown_event_code_gets_no_challenge(client: TestClient) -> None:
    response = client.post("/api/opt-outs/challenges", json={"event_code": "ZZZ-ZZZ"})
    assert (response.status_code, response.json()["code"]) == (404, "event_not_found")
