"""Browse-all galleries: off by default; a link with its own password and expiry; every
indexed photo of the event behind it, under the event's download rules; the consent page
says what it means for the people in them."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from redis import Redis
from sqlmodel import Session

from core.models import Event, utcnow
from core.storage import get_storage
from tests.helpers import (
    create_photo,
    image_bytes,
    owned_event,
)

PASSWORD = "harbour-regatta-2026"


def _open(client: TestClient, event: Event, headers: dict[str, str], days: int = 7) -> str:
    until = (utcnow() + timedelta(days=days)).isoformat()
    response = client.put(f"/api/events/{event.id}/gallery", headers=headers,
                          json={"password": PASSWORD, "expires_at": until})  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["enabled"] is True
    return response.json()["url"].rsplit("/g/", 1)[1]


def _enter(client: TestClient, token: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post(f"/api/galleries/{token}/access", json={"password": password})


def test_a_gallery_is_off_until_its_photographer_turns_it_on(
    client: TestClient, session: Session
) -> None:
    event, headers = owned_event(session)
    assert client.get(f"/api/events/{event.id}/gallery", headers=headers).json() == {
        "enabled": False, "url": None, "expires_at": None}  # fmt: skip
    page = client.get(f"/e/{event.code}")
    assert 'id="gallery-notice"' not in page.text


def test_the_password_opens_every_indexed_photo_and_nothing_else(
    client: TestClient, session: Session
) -> None:
    event, headers = owned_event(session)
    other, _ = owned_event(session)
    shown = [create_photo(session, event=event, data=image_bytes(), status="indexed",
                          filename=f"IMG_{n}.JPG") for n in range(3)]  # fmt: skip
    pending = create_photo(session, event=event, data=image_bytes(), status="pending")
    elsewhere = create_photo(session, event=other, data=image_bytes(), status="indexed")
    token = _open(client, event, headers)

    assert client.get(f"/api/galleries/{token}").json()["event_name"] == "Harbour Regatta"
    assert client.get(f"/api/galleries/{token}/photos").status_code == 401
    wrong = _enter(client, token, "not-the-password")
    assert wrong.status_code == 401 and wrong.json()["code"] == "wrong_gallery_password"
    granted = _enter(client, token)
    assert granted.status_code == 200
    visitor = {"Authorization": f"Bearer {granted.json()['access_token']}"}
    listed = client.get(f"/api/galleries/{token}/photos", headers=visitor).json()
    assert listed["count"] == 3
    assert {p["id"] for p in listed["data"]} == {str(p.id) for p in shown}
    base = f"/api/galleries/{token}/photos"
    original = client.get(f"{base}/{shown[0].id}/image?download=1", headers=visitor)
    assert original.status_code == 200
    assert original.content == get_storage().get(shown[0].storage_key)
    for outsider in (pending, elsewhere):
        assert client.get(f"{base}/{outsider.id}/image", headers=visitor).status_code == 404
    assert client.get("/api/me/photos", headers=visitor).status_code == 401, "no session"


def test_the_galleries_photos_follow_the_download_rules(
    client: TestClient, session: Session
) -> None:
    event, headers = owned_event(session, originals_downloadable=False, watermark=True)
    photo = create_photo(session, event=event, data=image_bytes(size=(600, 400)),
                         status="indexed", width=600, height=400)  # fmt: skip
    token = _open(client, event, headers)
    visitor = {"Authorization": f"Bearer {_enter(client, token).json()['access_token']}"}
    base = f"/api/galleries/{token}/photos/{photo.id}/image"
    refused = client.get(base, headers=visitor)
    assert refused.status_code == 403 and refused.json()["code"] == "originals_not_downloadable"
    preview = client.get(f"{base}?size=preview", headers=visitor)
    assert preview.status_code == 200 and preview.headers["content-type"] == "image/jpeg"
    [item] = client.get(f"/api/galleries/{token}/photos", headers=visitor).json()["data"]
    assert item["original"] is False and item["url"] == f"{base}?size=preview"


def test_expiry_turning_off_and_a_new_link_each_end_every_access(
    client: TestClient, session: Session, redis: Redis
) -> None:
    event, headers = owned_event(session)
    create_photo(session, event=event, data=image_bytes(), status="indexed")
    token = _open(client, event, headers)
    visitor = {"Authorization": f"Bearer {_enter(client, token).json()['access_token']}"}
    assert client.get(f"/api/galleries/{token}/photos", headers=visitor).status_code == 200

    accesses = f"gallery-access:{event.id}:*"
    assert len(list(redis.scan_iter(match=accesses))) == 1
    fresh = _open(client, event, headers)
    assert fresh != token
    assert list(redis.scan_iter(match=accesses)) == [], "the old link's accesses are deleted"
    assert client.get(f"/api/galleries/{token}/photos", headers=visitor).status_code == 404
    assert _enter(client, token).status_code == 404, "the old link is gone"
    visitor = {"Authorization": f"Bearer {_enter(client, fresh).json()['access_token']}"}

    session.refresh(event)
    event.gallery_expires_at = utcnow() - timedelta(seconds=1)
    session.add(event)
    session.commit()
    assert client.get(f"/api/galleries/{fresh}/photos", headers=visitor).status_code == 404
    assert client.get(f"/g/{fresh}").status_code == 404

    fresh = _open(client, event, headers)
    visitor = {"Authorization": f"Bearer {_enter(client, fresh).json()['access_token']}"}
    assert client.delete(f"/api/events/{event.id}/gallery", headers=headers).status_code == 204
    assert client.get(f"/api/galleries/{fresh}/photos", headers=visitor).status_code == 404
    assert list(redis.scan_iter(match=accesses)) == []
    session.refresh(event)
    assert (event.gallery_token, event.gallery_password_hash) == (None, None)


def test_a_gallery_ends_within_ninety_days_and_its_password_is_hashed(
    client: TestClient, session: Session
) -> None:
    event, headers = owned_event(session)
    for days in (-1, 91):
        until = (utcnow() + timedelta(days=days)).isoformat()
        response = client.put(f"/api/events/{event.id}/gallery", headers=headers,
                              json={"password": PASSWORD, "expires_at": until})  # fmt: skip
        assert response.status_code == 400 and response.json()["code"] == "bad_gallery_expiry"
    short = client.put(f"/api/events/{event.id}/gallery", headers=headers,
                       json={"password": "short", "expires_at": utcnow().isoformat()})  # fmt: skip
    assert short.status_code == 422
    _open(client, event, headers)
    session.refresh(event)
    assert event.gallery_password_hash is not None
    assert event.gallery_password_hash.startswith("$argon2id$")
    assert PASSWORD not in event.gallery_password_hash


def test_the_consent_text_says_what_a_gallery_means_for_the_people_in_it(
    client: TestClient, session: Session
) -> None:
    event, headers = owned_event(session)
    closed = client.get(f"/e/{event.code}").text
    assert 'id="gallery-notice"' not in closed and 'id="opt-out-gallery"' not in closed
    _open(client, event, headers, days=10)
    page = client.get(f"/e/{event.code}")
    assert 'id="gallery-notice"' in page.text
    bystander = page.text.split('id="opt-out-gallery"', 1)[1].split("</p>", 1)[0]
    assert "does not take you out of the photos there" in bystander, "the opt-out says it too"
    notice = page.text.split('id="gallery-notice"', 1)[1].split("</li>", 1)[0]
    assert "<strong>every photo</strong>" in notice
    assert "deleting your face data does not take you out" in " ".join(notice.split())
    session.refresh(event)
    event.welcome_text, event.accent_color = "Fair winds!", "#c2185b"
    event.logo_key, event.logo_version = f"events/{event.id}/brand/logo-1.png", 1
    session.add(event)
    session.commit()
    gallery = client.get(f"/g/{_open(client, event, headers)}")
    assert gallery.status_code == 200 and "Harbour Regatta" in gallery.text
    for brand in (f"/e/{event.code}/brand.css", f"/api/e/{event.code}/logo?v=1", "Fair winds!"):
        assert brand in gallery.text, "the photographer's brand on the gallery's page"
