"""The whole product through the API and a real forking worker process.

A photographer uploads group photos and portraits; attendees register with
the event code and upload a *different* photo of themselves as a selfie; each
sees exactly the photos they are in.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.helpers import (
    EVENT_PHOTOS,
    IN_PHOTOS,
    SELFIES,
    create_user,
    face_photo,
    register_attendee,
    token_headers,
)

pytestmark = [pytest.mark.faces, pytest.mark.e2e]


def run_forking_worker(data_dir: Path) -> None:
    """A real `python -m workers --burst`: preloads the models, forks a work horse per job."""
    env = dict(os.environ, FACEMATCH_DATA_DIR=str(data_dir))
    result = subprocess.run(
        [sys.executable, "-m", "workers", "--burst", "--log-level", "WARNING"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture
def event_with_photos(faces_dir, client: TestClient, session: Session, services: Path):  # type: ignore[no-untyped-def]
    create_user(session, email="photographer@example.com")
    headers = token_headers(client, "photographer@example.com")
    event = client.post("/api/events", json={"name": "Gala"}, headers=headers).json()
    files = [("files", (name, face_photo(path))) for name, path in EVENT_PHOTOS.items()]
    response = client.post(f"/api/events/{event['id']}/photos", files=files, headers=headers)
    assert response.status_code == 202
    assert response.json()["accepted"] == len(EVENT_PHOTOS)
    ids = {r["filename"]: r["id"] for r in response.json()["data"]}
    run_forking_worker(services)
    metrics = client.get("/metrics").text
    assert (
        f'facematch_job_duration_seconds_count{{job="index_photo"}} {len(EVENT_PHOTOS)}.0'
        in metrics
    )
    progress = client.get(f"/api/events/{event['id']}", headers=headers).json()["progress"]
    assert progress["photos_indexed"] == len(EVENT_PHOTOS)
    assert progress["faces"] >= 15
    return event, ids, headers


def _selfie_flow(client: TestClient, data_dir: Path, code: str, identity: str) -> dict:  # type: ignore[type-arg]
    attendee = register_attendee(client, code, email=f"{identity}@example.com")
    response = client.post(
        "/api/upload-selfie",
        files={"file": ("selfie.jpg", face_photo(SELFIES[identity]))},
        headers=attendee["headers"],
    )
    assert response.status_code == 202
    assert client.get("/api/me/selfie", headers=attendee["headers"]).json()["status"] == "pending"
    run_forking_worker(data_dir)
    return attendee


def test_attendees_see_exactly_the_photos_they_are_in(event_with_photos, client, services) -> None:  # type: ignore[no-untyped-def]
    event, ids, _ = event_with_photos
    names = {v: k for k, v in ids.items()}
    seen = {}
    for identity in IN_PHOTOS:
        attendee = _selfie_flow(client, services, event["code"], identity)
        assert client.get("/api/me/selfie", headers=attendee["headers"]).json()["status"] == "valid"
        photos = client.get("/api/me/photos", headers=attendee["headers"]).json()
        seen[identity] = (attendee, photos)
        assert {names[p["id"]] for p in photos["data"]} == IN_PHOTOS[identity]
        assert all(0 <= p["distance"] <= event["tolerance"] for p in photos["data"])

    obama, obama_photos = seen["obama"]
    kit, kit_photos = seen["kit_harington"]
    mine = obama_photos["data"][0]["url"]
    assert client.get(mine, headers=obama["headers"]).status_code == 200
    assert client.get(mine, headers=kit["headers"]).status_code == 403
    theirs = kit_photos["data"][0]["url"]
    assert client.get(theirs, headers=obama["headers"]).status_code == 403
    assert (
        client.get(f"/api/photos/{ids['dogs.jpg']}/image", headers=obama["headers"]).status_code
        == 403
    )


def test_a_selfie_with_two_faces_is_rejected_with_multiple_faces(
    event_with_photos, client, services
) -> None:  # type: ignore[no-untyped-def]
    event, _, _ = event_with_photos
    attendee = register_attendee(client, event["code"])
    client.post(
        "/api/upload-selfie",
        files={"file": ("selfie.jpg", face_photo(EVENT_PHOTOS["two_people.jpg"]))},
        headers=attendee["headers"],
    )
    run_forking_worker(services)
    state = client.get("/api/me/selfie", headers=attendee["headers"]).json()
    assert (state["status"], state["reason"]) == ("rejected", "multiple_faces")
    assert state["detail"]
    assert client.get("/api/me/photos", headers=attendee["headers"]).json()["count"] == 0


def test_photos_uploaded_after_the_selfie_show_up_by_themselves(
    faces_dir, client, session, services
) -> None:  # type: ignore[no-untyped-def]
    create_user(session, email="photographer@example.com")
    headers = token_headers(client, "photographer@example.com")
    event = client.post("/api/events", json={"name": "Later"}, headers=headers).json()
    attendee = _selfie_flow(client, services, event["code"], "obama")
    assert client.get("/api/me/photos", headers=attendee["headers"]).json()["count"] == 0
    files = [("files", ("two_people.jpg", face_photo(EVENT_PHOTOS["two_people.jpg"])))]
    client.post(f"/api/events/{event['id']}/photos", files=files, headers=headers)
    run_forking_worker(services)
    assert client.get("/api/me/photos", headers=attendee["headers"]).json()["count"] == 1
