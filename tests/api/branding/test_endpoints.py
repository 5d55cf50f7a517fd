"""An event's brand (logo, accent, welcome text), its watermark, and its download rules.

Every route that serves an image or a zip is called here under each rule, by each kind of
caller: the photographer and admins get everything; an attendee, a runner and a bib
searcher get what the event allows."""

from __future__ import annotations

import io
import os
import zipfile

from fastapi.testclient import TestClient
from PIL import Image
from redis import Redis
from sqlmodel import Session

from api.branding.service import PAGE_BACKGROUND, contrast
from core.models import Event, Face, PhotoBib, utcnow
from core.storage import get_storage
from tests.helpers import (
    create_match,
    create_photo,
    create_user,
    image_bytes,
    logo_bytes,
    owned_event,
    register_attendee,
    run_jobs,
    session_token,
)

GREY = (128, 128, 128)


def _grey_photo(session: Session, event: Event, **fields: object):  # type: ignore[no-untyped-def]
    data = image_bytes(size=(600, 400), color=GREY)
    values = {"width": 600, "height": 400, "status": "indexed", **fields}
    return create_photo(session, event=event, data=data, **values)


def _files(prefix: str) -> list[str]:
    return get_storage().keys(prefix)


def _marked_corner(jpeg: bytes) -> str | None:
    """Which corner of a flat grey image carries a mark (pixels far from the grey), or None
    when no pixel strays beyond JPEG's noise."""
    with Image.open(io.BytesIO(jpeg)) as image:
        grey = image.convert("L")
    width, height = grey.size
    corners = {
        "bottom-right": (width * 0.6, height * 0.6, width, height),
        "bottom-left": (0, height * 0.6, width * 0.4, height),
        "top-right": (width * 0.6, 0, width, height * 0.4),
        "top-left": (0, 0, width * 0.4, height * 0.4),
    }
    strays = {}
    for name, box in corners.items():
        low, high = grey.crop(tuple(round(v) for v in box)).getextrema()  # type: ignore[misc]
        strays[name] = max(abs(low - 128), abs(high - 128))
    corner = max(strays, key=strays.__getitem__)
    return corner if strays[corner] > 24 else None


# Logo, accent and welcome text --------------------------------------------------------


def test_a_logo_is_stored_as_a_png_the_api_drew_and_shown_to_anyone_with_the_code(
    client: TestClient, session: Session
) -> None:
    event, headers = owned_event(session)
    upload = logo_bytes(size=(1600, 600), fmt="JPEG")
    response = client.put(f"/api/events/{event.id}/logo", headers=headers,
                          files={"file": ("logo.jpg", upload + b"PK\x05\x06trailer")})  # fmt: skip
    assert response.status_code == 422 and response.json()["code"] == "embedded_payload"
    response = client.put(f"/api/events/{event.id}/logo", headers=headers,
                          files={"file": ("logo.jpg", upload)})  # fmt: skip
    assert response.status_code == 200, response.text
    stored = response.json()
    assert (stored["width"], stored["height"]) == (800, 300), "at most 800 px"
    assert stored["logo_url"] == f"/api/e/{event.code}/logo?v=1"

    served = client.get(stored["logo_url"])
    assert served.status_code == 200 and served.headers["content-type"] == "image/png"
    assert "public" in served.headers["cache-control"]
    with Image.open(io.BytesIO(served.content)) as logo:
        assert (logo.format, logo.size) == ("PNG", (800, 300))
    assert (
        client.get(f"/api/events/{event.id}", headers=headers).json()["logo_url"]
        == (stored["logo_url"])
    )
    assert client.get("/api/e/NOSUCH/logo").status_code == 404


def test_bad_logos_are_refused_with_a_reason_and_nothing_is_stored(
    client: TestClient, session: Session
) -> None:
    event, headers = owned_event(session)
    gif = io.BytesIO()
    Image.new("RGB", (100, 100)).save(gif, "GIF")
    cases = {
        "unsupported_format": gif.getvalue(),
        "logo_too_small": logo_bytes(size=(100, 20)),
        "not_an_image": b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>",
        "empty_file": b"",
    }
    for code, data in cases.items():
        response = client.put(f"/api/events/{event.id}/logo", headers=headers,
                              files={"file": ("logo", data)})  # fmt: skip
        assert response.status_code == 422, (code, response.text)
        assert response.json()["code"] == code
    noise = io.BytesIO()
    Image.frombytes("RGB", (1000, 1000), os.urandom(3_000_000)).save(noise, "PNG")
    big = noise.getvalue()
    response = client.put(f"/api/events/{event.id}/logo", headers=headers,
                          files={"file": ("logo.png", big)})  # fmt: skip
    assert response.status_code == 413
    assert _files(f"events/{event.id}/") == []
    session.refresh(event)
    assert (event.logo_key, event.logo_version) == (None, 0)


def test_a_new_logo_replaces_the_old_file_and_a_deleted_one_leaves_nothing(
    client: TestClient, session: Session
) -> None:
    event, headers = owned_event(session)
    for n in (1, 2):
        response = client.put(f"/api/events/{event.id}/logo", headers=headers,
                              files={"file": ("logo.png", logo_bytes())})  # fmt: skip
        assert response.status_code == 200
        assert _files(f"events/{event.id}/brand/") == [f"events/{event.id}/brand/logo-{n}.png"]
    assert client.delete(f"/api/events/{event.id}/logo", headers=headers).status_code == 204
    assert _files(f"events/{event.id}/") == []
    assert client.get(f"/api/e/{event.code}/logo").status_code == 404
    assert client.get(f"/api/events/{event.id}", headers=headers).json()["logo_url"] is None


def test_the_events_deletion_takes_its_logo(
    client: TestClient, session: Session, redis: Redis
) -> None:
    event, headers = owned_event(session)
    client.put(f"/api/events/{event.id}/logo", headers=headers,
               files={"file": ("logo.png", logo_bytes())})  # fmt: skip
    _grey_photo(session, event)
    assert client.delete(f"/api/events/{event.id}", headers=headers).status_code == 202
    run_jobs(redis, "maintenance")
    assert _files(f"events/{event.id}/") == []


def test_the_brand_keeps_any_accent_readable(client: TestClient, session: Session) -> None:
    event, headers = owned_event(session)
    plain = client.get(f"/api/e/{event.code}/brand").json()
    assert plain["accent"] == "#2957d8" and plain["welcome_text"] is None
    for accent in ("#FFD400", "#ffffff", "#101010", "#7f7f7f", "#00a0e0"):
        response = client.patch(f"/api/events/{event.id}", headers=headers,
                                json={"accent_color": accent})  # fmt: skip
        assert response.status_code == 200, response.text
        brand = client.get(f"/api/e/{event.code}/brand").json()
        assert brand["accent"] == accent.lower()
        assert contrast(brand["accent"], brand["accent_ink"]) >= 4.5, accent
        assert contrast(brand["accent_on_white"], "#ffffff") >= 4.5, accent
        assert contrast(brand["accent_on_white"], PAGE_BACKGROUND) >= 4.5, accent


def test_accent_and_welcome_text_are_checked(client: TestClient, session: Session) -> None:
    event, headers = owned_event(session)
    for body in ({"accent_color": "red"}, {"accent_color": "#12345g"},
                 {"welcome_text": "Hi\u202eevil"}, {"welcome_text": "x" * 1001}):  # fmt: skip
        response = client.patch(f"/api/events/{event.id}", headers=headers, json=body)
        assert response.status_code == 422, body
    text = "Welcome to the regatta!\r\n\r\n\r\n\r\nPhotos by Studio Mer."
    response = client.patch(f"/api/events/{event.id}", headers=headers,
                            json={"welcome_text": text})  # fmt: skip
    assert response.json()["welcome_text"] == "Welcome to the regatta!\n\nPhotos by Studio Mer."


# The watermark ------------------------------------------------------------------------


def test_previews_and_thumbnails_carry_the_mark_and_originals_never(
    client: TestClient, session: Session
) -> None:
    event, headers = owned_event(session)
    photo = _grey_photo(session, event)
    original = get_storage().get(photo.storage_key)
    image = f"/api/photos/{photo.id}/image"
    for size in ("thumb", "preview"):
        unmarked = client.get(f"{image}?size={size}", headers=headers)
        assert _marked_corner(unmarked.content) is None, size

    response = client.patch(f"/api/events/{event.id}", headers=headers,
                            json={"watermark": True, "watermark_text": "Studio Mer"})  # fmt: skip
    assert response.status_code == 200 and response.json()["watermark"] is True
    for size in ("thumb", "preview"):
        marked = client.get(f"{image}?size={size}", headers=headers)
        assert _marked_corner(marked.content) == "bottom-right", size
    assert client.get(image, headers=headers).content == original

    client.put(f"/api/events/{event.id}/logo", headers=headers,
               files={"file": ("logo.png", logo_bytes())})  # fmt: skip
    with Image.open(io.BytesIO(client.get(f"{image}?size=preview", headers=headers).content)) as p:
        r, _, b = p.convert("RGB").getpixel((round(p.width * 0.85), round(p.height * 0.9)))
    assert b > r + 10, "the logo's blue, not the text's white, is burned in now"


def test_the_mark_keeps_off_the_faces_the_worker_found(
    client: TestClient, session: Session
) -> None:
    event, headers = owned_event(session, watermark=True)
    photo = _grey_photo(session, event)
    session.add(Face(photo_id=photo.id, event_id=event.id, top=250, right=590, bottom=390,
                     left=450, encoding=[0.0] * 128, detected_width=600,
                     detected_height=400))  # fmt: skip
    session.commit()
    thumb = client.get(f"/api/photos/{photo.id}/image?size=thumb", headers=headers).content
    assert _marked_corner(thumb) == "bottom-left"


def test_a_preview_of_a_photo_not_yet_indexed_is_marked_but_not_kept(
    client: TestClient, session: Session
) -> None:
    event, headers = owned_event(session, watermark=True)
    photo = _grey_photo(session, event, status="pending")
    marked = client.get(f"/api/photos/{photo.id}/image?size=thumb", headers=headers).content
    assert _marked_corner(marked) is not None
    assert _files(f"events/{event.id}/previews/") == [], "made again once its faces are known"


def test_a_new_mark_sweeps_the_previews_made_under_the_old(
    client: TestClient, session: Session, redis: Redis
) -> None:
    event, headers = owned_event(session)
    photo = _grey_photo(session, event)
    image = f"/api/photos/{photo.id}/image?size=thumb"
    client.get(image, headers=headers)
    assert _files(f"events/{event.id}/previews/") == [
        f"events/{event.id}/previews/{photo.id}-thumb.jpg"
    ]
    client.patch(f"/api/events/{event.id}", headers=headers, json={"watermark": True})
    client.get(image, headers=headers)
    run_jobs(redis, "maintenance")
    assert _files(f"events/{event.id}/previews/") == [
        f"events/{event.id}/previews/{photo.id}-thumb-m2.jpg"
    ]
    client.patch(f"/api/events/{event.id}", headers=headers, json={"watermark_text": "New"})
    run_jobs(redis, "maintenance")
    assert _files(f"events/{event.id}/previews/") == []
    session.refresh(event)
    assert (event.mark_version, event.marks_swept) == (2, 2)

    client.get(image, headers=headers)
    assert client.delete(f"/api/photos/{photo.id}", headers=headers).status_code == 200
    assert _files(f"events/{event.id}/") == [], "the photo's marked previews go with it"


def test_a_sweep_lost_with_redis_is_enqueued_again_by_the_reconciler(
    session: Session, redis: Redis
) -> None:
    from api.reconciler.service import reconcile
    from core.queue import JobQueue

    event, _ = owned_event(session, watermark=True, mark_version=3)
    photo = _grey_photo(session, event)
    stale = f"events/{event.id}/previews/{photo.id}-preview-m2.jpg"
    get_storage().put(stale, b"old")
    report = reconcile(session, JobQueue(redis))
    session.commit()
    assert f"sweep-previews-{event.id}" in report.enqueued
    run_jobs(redis, "maintenance")
    assert get_storage().exists(photo.storage_key) and not get_storage().exists(stale)


# Download rules -----------------------------------------------------------------------


def _rules_world(client: TestClient, session: Session, **rules: object):  # type: ignore[no-untyped-def]
    """A race with open bib search, a photo matched to an attendee and read as bib 42, and
    a runner's pass for 42; every caller's headers."""
    from api.auth.security import new_link_token
    from core.models import BibPass

    event, owner = owned_event(session, bibs_enabled=True, bib_search="open", **rules)
    admin = create_user(session, role="admin")
    attendee = register_attendee(client, event.code)
    photo = _grey_photo(session, event, filename="IMG_7.JPG", bibs_read_at=utcnow())
    session.add(PhotoBib(photo_id=photo.id, event_id=event.id, bib="42", top=1, right=9,
                         bottom=5, left=2, confidence=0.99))  # fmt: skip
    token, digest = new_link_token()
    session.add(BibPass(event_id=event.id, bib="42", token_sha256=digest,
                        expires_at=utcnow().replace(year=utcnow().year + 1)))  # fmt: skip
    session.commit()
    create_match(session, photo=photo, attendee_id=attendee["attendee_id"])
    headers = {
        "owner": owner,
        "admin": {"Authorization": f"Bearer {session_token(session, admin)}"},
        "attendee": attendee["headers"],
    }
    routes = {
        "attendee": f"/api/photos/{photo.id}/image",
        "searcher": f"/api/e/{event.code}/bibs/42/photos/{photo.id}/image",
        "runner": f"/api/bib-passes/{token}/photos/{photo.id}/image",
    }
    listings = {
        "attendee": ("/api/me/photos", attendee["headers"]),
        "searcher": (f"/api/e/{event.code}/bibs/42/photos", {}),
        "runner": (f"/api/bib-passes/{token}/photos", {}),
    }
    return event, photo, headers, routes, listings


def test_originals_go_to_visitors_only_where_the_event_allows_and_to_staff_always(
    client: TestClient, session: Session
) -> None:
    event, photo, headers, routes, listings = _rules_world(
        client, session, originals_downloadable=False, watermark=True
    )
    original = get_storage().get(photo.storage_key)
    for caller in ("owner", "admin"):
        full = client.get(routes["attendee"], headers=headers[caller])
        assert (full.status_code, full.content) == (200, original), caller
    for visitor, route in routes.items():
        caller_headers = headers.get(visitor, {})
        full = client.get(f"{route}?download=1", headers=caller_headers)
        assert full.status_code == 403, visitor
        assert full.json()["code"] == "originals_not_downloadable"
        for size in ("preview", "thumb"):
            shown = client.get(f"{route}?size={size}", headers=caller_headers)
            assert shown.status_code == 200, (visitor, size)
            assert _marked_corner(shown.content) is not None, (visitor, size)
        path, list_headers = listings[visitor]
        [item] = client.get(path, headers=list_headers).json()["data"]
        assert item["original"] is False and item["url"].endswith("?size=preview")
        download = client.get(item["download_url"], headers=caller_headers)
        assert download.status_code == 200, visitor
        assert "attachment" in download.headers["content-disposition"]

    client.patch(f"/api/events/{event.id}", headers=headers["owner"],
                 json={"originals_downloadable": True})  # fmt: skip
    for visitor, route in routes.items():
        full = client.get(route, headers=headers.get(visitor, {}))
        assert (full.status_code, full.content) == (200, original), visitor
        path, list_headers = listings[visitor]
        [item] = client.get(path, headers=list_headers).json()["data"]
        assert item["original"] is True and item["url"] == route


def _zip_names_and_files(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        return {name: archive.read(name) for name in archive.namelist()}


def test_an_attendees_zip_follows_the_rules_and_comes_through_a_one_time_link(
    client: TestClient, session: Session
) -> None:
    event, photo, headers, _, _ = _rules_world(client, session, zips_allowed=False)
    me = headers["attendee"]
    for response in (client.post("/api/me/photos/archive-link", headers=me),
                     client.get("/api/me/photos/archive", headers=me)):  # fmt: skip
        assert response.status_code == 403 and response.json()["code"] == "zips_not_allowed"
    link = client.post(f"/api/events/{event.id}/archive-link", headers=headers["owner"]).json()
    owners = _zip_names_and_files(client.get(link["url"]).content)
    assert owners == {"IMG_7.JPG": get_storage().get(photo.storage_key)}, "staff: any rule"

    client.patch(f"/api/events/{event.id}", headers=headers["owner"],
                 json={"zips_allowed": True, "watermark": True,
                       "originals_downloadable": False})  # fmt: skip
    link = client.post("/api/me/photos/archive-link", headers=me)
    assert link.status_code == 200, link.text
    url = link.json()["url"]
    assert "access_token" not in url and "Bearer" not in url
    response = client.get(url)
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith("attachment")
    files = _zip_names_and_files(response.content)
    assert list(files) == ["IMG_7.jpg"], "the preview, named as a JPEG"
    with Image.open(io.BytesIO(files["IMG_7.jpg"])) as preview:
        assert preview.format == "JPEG" and max(preview.size) <= 1600
    assert _marked_corner(files["IMG_7.jpg"]) is not None
    again = client.get(url)
    assert again.status_code == 401 and again.json()["code"] == "invalid_link"

    client.patch(f"/api/events/{event.id}", headers=headers["owner"],
                 json={"originals_downloadable": True})  # fmt: skip
    files = _zip_names_and_files(client.get(client.post(
        "/api/me/photos/archive-link", headers=me).json()["url"]).content)  # fmt: skip
    assert files == {"IMG_7.JPG": get_storage().get(photo.storage_key)}


def test_an_archive_link_is_for_its_attendee_only(client: TestClient, session: Session) -> None:
    event, _, headers, _, _ = _rules_world(client, session)
    other = register_attendee(client, event.code)
    url = client.post("/api/me/photos/archive-link", headers=headers["attendee"]).json()["url"]
    forged = url.replace(url.split("attendee=")[1].split("&")[0], other["attendee_id"])
    assert client.get(forged).status_code == 401
    assert client.get(url).status_code == 401, "a link tried on another path is spent"


def test_the_mark_slides_along_an_edge_to_a_place_with_no_face() -> None:
    from api import watermark

    size, stamp = (1600, 1067), (256, 80)
    # Faces in all four corners and along the bottom's left half: a crowd at the front.
    crowd = [watermark.Box(left, 940, left + 110, 1060) for left in range(0, 800, 120)]
    crowd += [watermark.Box(1450, 940, 1590, 1060), watermark.Box(0, 0, 140, 120),
              watermark.Box(1450, 0, 1590, 120)]  # fmt: skip
    x, y = watermark.place(size, stamp, crowd)
    spot = (float(x), float(y), float(x + stamp[0]), float(y + stamp[1]))
    assert all(watermark._overlap(spot, watermark._pad(face)) == 0 for face in crowd)
    assert y > 900, "the bottom edge is tried before the top"

    everywhere = [watermark.Box(x, y, x + 200, y + 200)
                  for x in range(0, 1600, 150) for y in range(0, 1067, 150)]  # fmt: skip
    x, y = watermark.place(size, stamp, everywhere)
    assert 0 <= x <= size[0] - stamp[0] and 0 <= y <= size[1] - stamp[1], "still on the photo"
