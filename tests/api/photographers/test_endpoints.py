"""Many photographers at one event, and capture time on one timeline."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from PIL import Image
from sqlmodel import Session

from core.models import Photo, PhotoBib, User
from tests.helpers import create_event, create_user, mailed, register_attendee, session_token


def _jpeg(taken: str | None = None, offset: str | None = None, *, color: int = 0) -> bytes:
    """A small JPEG, with an EXIF capture time when given (each colour is other bytes)."""
    exif = Image.Exif()
    if taken is not None:
        ifd = exif.get_ifd(0x8769)
        ifd[0x9003] = taken
        if offset is not None:
            ifd[0x9011] = offset
    buffer = io.BytesIO()
    Image.new("RGB", (64, 48), (color * 37 % 256, color * 91 % 256, 40)).save(
        buffer, "JPEG", exif=exif
    )
    return buffer.getvalue()


def _headers(session: Session, email: str) -> tuple[uuid.UUID, dict[str, str]]:
    user = create_user(session, email=email)
    return user.id, {"Authorization": f"Bearer {session_token(session, user)}"}


def _user(session: Session, user_id: uuid.UUID) -> User:
    user = session.get(User, user_id)
    assert user is not None
    return user


def _upload(client: TestClient, event_id: uuid.UUID, headers: dict, files: dict) -> dict:  # type: ignore[type-arg]
    response = client.post(
        f"/api/events/{event_id}/photos",
        files=[("files", (name, data)) for name, data in files.items()],
        headers=headers,
    )
    assert response.status_code == 202, response.text
    return {r["filename"]: r["id"] for r in response.json()["data"]}


def _listed(client: TestClient, event_id: uuid.UUID, headers: dict, query: str = "") -> list:  # type: ignore[type-arg]
    response = client.get(f"/api/events/{event_id}/photos{query}", headers=headers)
    assert response.status_code == 200, response.text
    return [p["filename"] for p in response.json()["data"]]


def test_the_capture_time_is_read_from_exif_with_its_offset(
    client: TestClient, session: Session
) -> None:
    owner, headers = _headers(session, "owner@example.com")
    event = create_event(session, owner=_user(session, owner))
    ids = _upload(client, event.id, headers, {
        "offset.jpg": _jpeg("2026:10:04 09:15:30", "+02:00", color=1),
        "camera-clock.jpg": _jpeg("2026:10:04 09:15:30", color=2),
        "none.jpg": _jpeg(color=3),
        "zeros.jpg": _jpeg("0000:00:00 00:00:00", color=4),
    })  # fmt: skip
    photos = {name: session.get(Photo, uuid.UUID(i)) for name, i in ids.items()}
    assert photos["offset.jpg"].taken_at == datetime(2026, 10, 4, 7, 15, 30, tzinfo=UTC)
    assert photos["offset.jpg"].taken_offset_minutes == 120
    assert photos["camera-clock.jpg"].taken_at == datetime(2026, 10, 4, 9, 15, 30, tzinfo=UTC)
    assert photos["camera-clock.jpg"].taken_offset_minutes is None
    for name in ("none.jpg", "zeros.jpg"):
        assert photos[name].taken_at is None
        assert photos[name].captured_at == photos[name].created_at
    assert all(p.uploaded_by == owner for p in photos.values())


def test_grids_run_by_capture_time_and_a_clock_correction_moves_a_photographers_photos(
    client: TestClient, session: Session
) -> None:
    owner, owner_headers = _headers(session, "owner@example.com")
    event = create_event(session, owner=_user(session, owner))
    client.post(f"/api/events/{event.id}/contributors", json={"email": "Slow@Example.com"},
                headers=owner_headers)  # fmt: skip
    helper, helper_headers = _headers(session, "slow@example.com")
    # The owner's camera is right; the helper's is an hour slow. Uploaded out of order.
    _upload(client, event.id, helper_headers, {
        "helper-0930.jpg": _jpeg("2026:10:04 08:30:00", color=10),  # really 09:30
        "helper-0910.jpg": _jpeg("2026:10:04 08:10:00", color=11),  # really 09:10
    })  # fmt: skip
    _upload(client, event.id, owner_headers, {
        "owner-0900.jpg": _jpeg("2026:10:04 09:00:00", color=12),
        "owner-0920.jpg": _jpeg("2026:10:04 09:20:00", color=13),
    })  # fmt: skip
    assert _listed(client, event.id, owner_headers) == [
        "owner-0920.jpg", "owner-0900.jpg", "helper-0930.jpg", "helper-0910.jpg",
    ]  # fmt: skip

    # A contributor corrects their own clock, never another's.
    other = client.put(f"/api/events/{event.id}/clocks/{owner}", json={"offset_seconds": 60},
                       headers=helper_headers)  # fmt: skip
    assert (other.status_code, other.json()["code"]) == (403, "not_owner")
    fixed = client.put(f"/api/events/{event.id}/clocks/{helper}", json={"offset_seconds": 3600},
                       headers=helper_headers)  # fmt: skip
    assert fixed.json() == {"offset_seconds": 3600, "photos_moved": 2}
    assert _listed(client, event.id, owner_headers) == [
        "helper-0930.jpg", "owner-0920.jpg", "helper-0910.jpg", "owner-0900.jpg",
    ]  # fmt: skip
    # A photo uploaded after the correction lands corrected.
    _upload(client, event.id, helper_headers, {"helper-0915.jpg": _jpeg("2026:10:04 08:15:00")})
    assert _listed(client, event.id, owner_headers)[2:4] == ["helper-0915.jpg", "helper-0910.jpg"]

    listed = client.get(f"/api/events/{event.id}/photographers", headers=owner_headers).json()
    rows = [(p["email"], p["role"], p["photos"], p["clock_offset_seconds"]) for p in listed["data"]]
    assert rows == [
        ("owner@example.com", "owner", 2, 0),
        ("slow@example.com", "contributor", 3, 3600),
    ]
    only_helper = _listed(client, event.id, owner_headers, f"?photographer={helper}")
    assert sorted(only_helper) == ["helper-0910.jpg", "helper-0915.jpg", "helper-0930.jpg"]


def test_a_contributor_uploads_sees_their_own_and_the_counts_and_nothing_more(
    client: TestClient, session: Session
) -> None:
    owner, owner_headers = _headers(session, "owner@example.com")
    event = create_event(session, owner=_user(session, owner), name="Harbour 10K")
    invite = {"email": "station2@example.com"}
    invited = client.post(
        f"/api/events/{event.id}/contributors", json=invite, headers=owner_headers
    )
    assert invited.status_code == 201
    assert [p["user_id"] for p in invited.json()["data"] if p["role"] == "contributor"] == [None]
    mail = mailed("station2@example.com")[0]
    assert "Harbour 10K" in mail.subject
    _, headers = _headers(session, "station2@example.com")
    _, stranger_headers = _headers(session, "stranger@example.com")

    mine = client.get("/api/events", headers=headers).json()["data"]
    assert [(e["id"], e["your_role"]) for e in mine] == [(str(event.id), "contributor")]
    assert client.get("/api/events", headers=stranger_headers).json()["data"] == []

    own = _upload(client, event.id, headers, {"mine.jpg": _jpeg(color=20)})
    theirs = _upload(client, event.id, owner_headers, {"owners.jpg": _jpeg(color=21)})
    assert _listed(client, event.id, headers) == ["mine.jpg"]
    assert _listed(client, event.id, headers, f"?photographer={owner}") == ["mine.jpg"]
    detail = client.get(f"/api/events/{event.id}", headers=headers).json()
    assert (detail["progress"]["photos_total"], detail["your_role"]) == (2, "contributor")

    refused = [
        client.patch(f"/api/events/{event.id}", json={"name": "Mine"}, headers=headers),
        client.delete(f"/api/events/{event.id}", headers=headers),
        client.delete(f"/api/photos/{theirs['owners.jpg']}", headers=headers),
        client.get(f"/api/events/{event.id}/photographers", headers=headers),
        client.post(f"/api/events/{event.id}/contributors", json={"email": "x@example.com"},
                    headers=headers),
    ]  # fmt: skip
    assert [r.status_code for r in refused] == [403] * 5
    stranger_upload = [("files", ("x.jpg", _jpeg(color=22)))]
    assert client.post(f"/api/events/{event.id}/photos", headers=stranger_headers,
                       files=stranger_upload).status_code == 403  # fmt: skip
    assert client.delete(f"/api/photos/{own['mine.jpg']}", headers=headers).status_code == 200

    _upload(client, event.id, headers, {"again.jpg": _jpeg(color=23)})
    gone = client.delete(f"/api/events/{event.id}/contributors/station2@example.com",
                         headers=owner_headers)  # fmt: skip
    assert gone.status_code == 204
    late = client.post(f"/api/events/{event.id}/photos", headers=headers,
                       files=[("files", ("late.jpg", _jpeg(color=24)))])  # fmt: skip
    assert late.status_code == 403
    people = client.get(f"/api/events/{event.id}/photographers", headers=owner_headers).json()
    assert [(p["email"], p["role"], p["photos"]) for p in people["data"]] == [
        ("owner@example.com", "owner", 1),
        ("station2@example.com", "former", 1),
    ]


def test_my_photos_of_a_race_run_along_the_course(client: TestClient, session: Session) -> None:
    owner, headers = _headers(session, "owner@example.com")
    event = create_event(session, owner=_user(session, owner))
    event.bibs_enabled, event.bib_search = True, "open"
    session.add(event)
    session.commit()
    ids = _upload(client, event.id, headers, {
        "km30.jpg": _jpeg("2026:10:04 11:00:00", color=30),
        "start.jpg": _jpeg("2026:10:04 09:00:00", color=31),
        "km10.jpg": _jpeg("2026:10:04 09:40:00", color=32),
    })  # fmt: skip
    for photo_id in ids.values():
        session.add(PhotoBib(photo_id=uuid.UUID(photo_id), event_id=event.id, bib="88", top=0,
                             right=1, bottom=1, left=0, confidence=0.99))  # fmt: skip
    session.commit()
    me = register_attendee(client, event.code)
    client.put("/api/me/bib", json={"bib": "88"}, headers=me["headers"])
    first = client.get("/api/me/photos?limit=2", headers=me["headers"]).json()
    rest = client.get(f"/api/me/photos?limit=2&cursor={first['next_cursor']}",
                      headers=me["headers"]).json()  # fmt: skip
    assert [p["filename"] for p in first["data"] + rest["data"]] == [
        "start.jpg", "km10.jpg", "km30.jpg",
    ]  # fmt: skip
    searched = client.get(f"/api/e/{event.code}/bibs/88/photos").json()
    assert [p["filename"] for p in searched["data"]] == ["start.jpg", "km10.jpg", "km30.jpg"]


@pytest.mark.parametrize("offset", [-7 * 24 * 3600 - 1, 7 * 24 * 3600 + 1])
def test_a_clock_is_corrected_by_a_week_at_most(
    client: TestClient, session: Session, offset: int
) -> None:
    owner, headers = _headers(session, "owner@example.com")
    event = create_event(session, owner=_user(session, owner))
    response = client.put(f"/api/events/{event.id}/clocks/{owner}",
                          json={"offset_seconds": offset}, headers=headers)  # fmt: skip
    assert response.status_code == 422
