import re

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from sqlmodel import Session

from core.models import Event
from core.queue import JobQueue, rematch_event
from tests.helpers import (
    create_event,
    create_match,
    create_photo,
    create_user,
    register_attendee,
    token_headers,
)


def test_photographer_creates_an_event_with_a_code_and_join_link(
    client: TestClient, session: Session
) -> None:
    create_user(session, email="p@example.com")
    response = client.post(
        "/api/events", json={"name": "Wedding"}, headers=token_headers(client, "p@example.com")
    )
    assert response.status_code == 201
    body = response.json()
    assert re.fullmatch(r"[A-Z0-9]{3}-[A-Z0-9]{3}", body["code"])
    assert body["join_url"].endswith(f"/e/{body['code']}")
    assert body["status"] == "open"
    assert body["tolerance"] == 0.6


def test_attendees_cannot_create_events(client: TestClient, session: Session) -> None:
    create_user(session, email="a@example.com", role="attendee")
    response = client.post(
        "/api/events", json={"name": "Mine"}, headers=token_headers(client, "a@example.com")
    )
    assert response.status_code == 403
    assert response.json()["error"] == "NotPermitted"


def test_event_shows_progress_counts(client: TestClient, session: Session) -> None:
    owner = create_user(session, email="p@example.com")
    event = create_event(session, owner=owner)
    register_attendee(client, event.code)
    body = client.get(
        f"/api/events/{event.id}", headers=token_headers(client, "p@example.com")
    ).json()
    assert body["progress"]["attendees"] == 1
    assert body["progress"]["photos_total"] == 0
    assert body["progress"]["rematch_pending"] is False
    assert body["progress"]["match_rate"] == 0


def test_the_match_rate_is_the_share_of_attendees_with_a_photo(
    client: TestClient, session: Session
) -> None:
    owner = create_user(session, email="p@example.com")
    event = create_event(session, owner=owner)
    headers = token_headers(client, "p@example.com")
    assert (
        client.get(f"/api/events/{event.id}", headers=headers).json()["progress"]["match_rate"]
        is None
    )
    attendees = [register_attendee(client, event.code) for _ in range(4)]
    for photo_number in range(2):  # two photos of the first attendee: still one attendee
        photo = create_photo(session, event=event, filename=f"{photo_number}.jpg")
        create_match(session, photo=photo, attendee_id=attendees[0]["attendee_id"])
    photo = create_photo(session, event=event)
    create_match(session, photo=photo, attendee_id=attendees[1]["attendee_id"])
    progress = client.get(f"/api/events/{event.id}", headers=headers).json()["progress"]
    assert (progress["matches"], progress["attendees_matched"]) == (3, 2)
    assert progress["match_rate"] == 0.5


def test_a_photographer_cannot_touch_another_photographers_event(
    client: TestClient, session: Session
) -> None:
    owner = create_user(session, email="owner@example.com")
    create_user(session, email="other@example.com")
    event = create_event(session, owner=owner)
    other = token_headers(client, "other@example.com")
    assert client.get(f"/api/events/{event.id}", headers=other).status_code == 403
    assert (
        client.patch(f"/api/events/{event.id}", json={"name": "x"}, headers=other).status_code
        == 403
    )
    assert (
        client.post(f"/api/photographer/events/{event.id}/rematch", headers=other).status_code
        == 403
    )
    assert client.get(f"/api/events/{event.id}/photos", headers=other).status_code == 403
    ids = [e["id"] for e in client.get("/api/events", headers=other).json()["data"]]
    assert str(event.id) not in ids


def test_admins_can_read_and_rematch_any_event(client: TestClient, session: Session) -> None:
    owner = create_user(session)
    create_user(session, email="admin@example.com", role="admin")
    event = create_event(session, owner=owner)
    admin = token_headers(client, "admin@example.com")
    assert client.get(f"/api/events/{event.id}", headers=admin).status_code == 200
    response = client.post(f"/api/admin/events/{event.id}/rematch", headers=admin)
    assert response.status_code == 202


def test_rematch_returns_202_and_enqueues_one_job(
    client: TestClient, session: Session, redis: Redis
) -> None:
    owner = create_user(session, email="p@example.com")
    event = create_event(session, owner=owner)
    headers = token_headers(client, "p@example.com")
    first = client.post(f"/api/photographer/events/{event.id}/rematch", headers=headers)
    second = client.post(f"/api/photographer/events/{event.id}/rematch", headers=headers)
    assert first.status_code == second.status_code == 202
    assert first.json()["job_id"] == rematch_event(event.id).job_id
    assert JobQueue(redis).depths()["maintenance"] == 1
    detail = client.get(first.json()["status_url"], headers=headers).json()
    assert detail["progress"]["rematch_pending"] is True


def test_changing_the_tolerance_requests_a_rematch(
    client: TestClient, session: Session, redis: Redis
) -> None:
    owner = create_user(session, email="p@example.com")
    event = create_event(session, owner=owner)
    headers = token_headers(client, "p@example.com")
    response = client.patch(f"/api/events/{event.id}", json={"tolerance": 0.45}, headers=headers)
    assert response.status_code == 200
    assert response.json()["tolerance"] == 0.45
    assert JobQueue(redis).is_active(rematch_event(event.id).job_id)
    session.expire_all()
    assert session.get(Event, event.id).rematch_requested_at is not None


def test_an_out_of_range_tolerance_is_a_422(client: TestClient, session: Session) -> None:
    create_user(session, email="p@example.com")
    response = client.post(
        "/api/events",
        json={"name": "x", "tolerance": 3},
        headers=token_headers(client, "p@example.com"),
    )
    assert response.status_code == 422
    assert response.json()["error"] == "ValidationError"


def test_closing_an_event_starts_the_retention_clock_and_reopening_stops_it(
    client: TestClient, session: Session
) -> None:
    owner = create_user(session, email="p@example.com")
    event = create_event(session, owner=owner)
    headers = token_headers(client, "p@example.com")
    closed = client.patch(f"/api/events/{event.id}", json={"status": "closed"}, headers=headers)
    assert closed.json()["status"] == "closed"
    session.refresh(event)
    assert event.closed_at is not None
    client.patch(f"/api/events/{event.id}", json={"status": "open"}, headers=headers)
    session.refresh(event)
    assert event.closed_at is None


def test_selfie_upload_and_auto_close_are_the_events_own_or_the_platforms(
    client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.config import settings

    create_user(session, email="p@example.com")
    headers = token_headers(client, "p@example.com")
    monkeypatch.setattr(settings, "SELFIE_UPLOAD", False)  # cluster mode's default
    event = client.post("/api/events", json={"name": "Race"}, headers=headers).json()
    assert (event["selfie_upload"], event["auto_close_days"]) == (False, settings.AUTO_CLOSE_DAYS)
    changed = client.patch(f"/api/events/{event['id']}", headers=headers,
                           json={"selfie_upload": True, "auto_close_days": 3})  # fmt: skip
    assert (changed.json()["selfie_upload"], changed.json()["auto_close_days"]) == (True, 3)
    refused = client.patch(f"/api/events/{event['id']}", json={"auto_close_days": 0},
                           headers=headers)  # fmt: skip
    assert refused.status_code == 422


@pytest.mark.parametrize("name", ["Gala\rParty", "Gala\nParty", "Gala\u2028Party", "Gala\tParty",
                                  "Gala\u2029", "\u202eytraP"])  # fmt: skip
def test_an_event_name_is_one_line(client: TestClient, session: Session, name: str) -> None:
    """A lone CR in a name made every mail about the event unbuildable."""
    create_user(session, email="p@example.com")
    headers = token_headers(client, "p@example.com")
    assert client.post("/api/events", json={"name": name}, headers=headers).status_code == 422
    created = client.post("/api/events", json={"name": "  Gala 🎉 👨‍👩‍👧  "}, headers=headers)
    assert created.status_code == 201 and created.json()["name"] == "Gala 🎉 👨‍👩‍👧"
    renamed = client.patch(f"/api/events/{created.json()['id']}", json={"name": name},
                           headers=headers)  # fmt: skip
    assert renamed.status_code == 422
    assert session.get(Event, created.json()["id"]).name == "Gala 🎉 👨‍👩‍👧"  # type: ignore[union-attr]
