"""Calibration in the studio: distances, attendees' photos, and a tolerance's preview made
by a real job before anything changes."""

from __future__ import annotations

from fastapi.testclient import TestClient
from redis import Redis
from sqlmodel import Session, select

from core.models import Match, User
from tests.helpers import create_matched_event, run_jobs, session_token


def test_calibration_shows_each_faces_distance_and_each_attendees_photos(
    client: TestClient, session: Session
) -> None:
    event = create_matched_event(session, {"Ada": [0.35, 0.45, 0.57], "Bo": [0.53, 0.67]})
    headers = {
        "Authorization": f"Bearer {session_token(session, session.get(User, event.owner_id))}"
    }
    answer = client.get(f"/api/events/{event.id}/calibration", headers=headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["tolerance"] == 0.6
    assert body["matches"] == 4
    by_low = {b["low"]: b for b in body["histogram"]}
    assert len(body["histogram"]) == 26 and body["histogram"][0]["low"] == 0.0
    for low, matched, unmatched in ((0.34, 1, 0), (0.44, 1, 0), (0.52, 1, 0), (0.56, 1, 0),
                                    (0.66, 0, 1), (0.4, 0, 0)):  # fmt: skip
        assert (by_low[low]["matched"], by_low[low]["unmatched"]) == (matched, unmatched), low
    assert [(a["name"], a["photos"]) for a in body["attendees"]] == [("Ada", 3), ("Bo", 1)]


def test_a_tolerance_preview_counts_what_would_change_and_changes_nothing(
    client: TestClient, session: Session, redis: Redis
) -> None:
    event = create_matched_event(session, {"Ada": [0.35, 0.45, 0.57], "Bo": [0.53, 0.67]})
    headers = {
        "Authorization": f"Bearer {session_token(session, session.get(User, event.owner_id))}"
    }
    url = f"/api/events/{event.id}/calibration/previews"
    asked = client.post(url, json={"tolerance": 0.5}, headers=headers)
    assert asked.status_code == 202, asked.text
    assert asked.json()["status"] == "pending"
    status_url = asked.json()["status_url"]
    assert status_url == f"{url}/0.50"
    assert client.get(status_url, headers=headers).json()["status"] == "pending"
    run_jobs(redis, "maintenance")
    done = client.get(status_url, headers=headers).json()
    assert done["status"] == "done"
    assert (done["matches_now"], done["matches_then"], done["gained"], done["lost"]) == (4, 2, 0, 2)
    assert done["attendees_affected"] == 2
    assert sorted((a["name"], a["photos_now"], a["photos_then"]) for a in done["attendees"]) == [
        ("Ada", 3, 2),
        ("Bo", 1, 0),
    ]
    # Looser: Bo's face at 0.67 comes in.
    client.post(url, json={"tolerance": 0.7}, headers=headers)
    run_jobs(redis, "maintenance")
    looser = client.get(f"{url}/0.7", headers=headers).json()
    assert (looser["gained"], looser["lost"], looser["matches_then"]) == (1, 0, 5)
    # Nothing changed meanwhile.
    assert len(session.exec(select(Match).where(Match.event_id == event.id)).all()) == 4
    assert client.get(f"/api/events/{event.id}", headers=headers).json()["tolerance"] == 0.6


def test_a_preview_never_asked_for_is_a_404_and_a_bad_tolerance_a_422(
    client: TestClient, session: Session
) -> None:
    event = create_matched_event(session, {"Ada": [0.4]})
    headers = {
        "Authorization": f"Bearer {session_token(session, session.get(User, event.owner_id))}"
    }
    url = f"/api/events/{event.id}/calibration/previews"
    missing = client.get(f"{url}/0.55", headers=headers)
    assert missing.status_code == 404
    assert missing.json()["code"] == "preview_not_found"
    for bad in (0.1, 0.9, "x"):
        assert client.post(url, json={"tolerance": bad}, headers=headers).status_code == 422
