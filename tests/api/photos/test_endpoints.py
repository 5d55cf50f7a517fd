import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from redis import Redis
from sqlmodel import Session, select

from core.config import settings
from core.models import Attendee, Photo
from core.queue import JobQueue, index_photo, rematch_event
from tests.helpers import (
    committed_after,
    create_event,
    create_match,
    create_photo,
    create_user,
    image_bytes,
    owned_event,
    register_attendee,
    token_headers,
)


def _stored_files() -> list[Path]:
    root = settings.storage_root
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_good_files_are_kept_and_bad_ones_refused_with_a_reason(
    client: TestClient, session: Session, redis: Redis
) -> None:
    owner = create_user(session, email="p@example.com")
    event = create_event(session, owner=owner)
    good = image_bytes(size=(640, 480))
    truncated = good[: len(good) // 2]
    files = [
        ("files", ("a.jpg", good)),
        ("files", ("b.png", image_bytes(fmt="PNG", mode="RGBA", color=(0, 0, 0, 0)))),
        ("files", ("notes.jpg", b"this is not an image")),
        ("files", ("cut.jpg", truncated)),
        ("files", ("empty.jpg", b"")),
    ]
    response = client.post(
        f"/api/events/{event.id}/photos",
        files=files,
        headers=token_headers(client, "p@example.com"),
    )
    assert response.status_code == 202
    body = response.json()
    assert (body["accepted"], body["rejected"]) == (2, 3)
    codes = {r["filename"]: r.get("code") for r in body["data"]}
    assert codes == {
        "a.jpg": None,
        "b.png": None,
        "notes.jpg": "not_an_image",
        "cut.jpg": "truncated_image",
        "empty.jpg": "empty_file",
    }
    photos = session.exec(select(Photo)).all()
    assert sorted(p.filename for p in photos) == ["a.jpg", "b.png"]
    assert {p.status for p in photos} == {"pending"}
    assert len(_stored_files()) == 2
    jobs = JobQueue(redis)
    assert all(jobs.is_active(index_photo(p.id).job_id) for p in photos)
    assert jobs.depths()["photos"] == 2


def test_when_every_file_is_bad_nothing_is_stored(client: TestClient, session: Session) -> None:
    owner = create_user(session, email="p@example.com")
    event = create_event(session, owner=owner)
    response = client.post(
        f"/api/events/{event.id}/photos",
        files=[("files", ("x.gif", b"GIF89a"))],
        headers=token_headers(client, "p@example.com"),
    )
    assert response.status_code == 422
    assert response.json()["code"] == "no_valid_files"
    assert session.exec(select(Photo)).all() == []
    assert _stored_files() == []


def test_upright_size_honours_exif_orientation(client: TestClient, session: Session) -> None:
    owner = create_user(session, email="p@example.com")
    event = create_event(session, owner=owner)
    rotated = image_bytes(size=(300, 200), exif_orientation=6)
    response = client.post(
        f"/api/events/{event.id}/photos",
        files=[("files", ("r.jpg", rotated))],
        headers=token_headers(client, "p@example.com"),
    )
    assert response.status_code == 202
    photo = session.exec(select(Photo)).one()
    assert (photo.width, photo.height) == (200, 300)


def test_a_decompression_bomb_is_refused_before_decoding(
    client: TestClient, session: Session, monkeypatch
) -> None:
    monkeypatch.setattr(settings, "MAX_IMAGE_PIXELS", 10_000)
    owner = create_user(session, email="p@example.com")
    event = create_event(session, owner=owner)
    response = client.post(
        f"/api/events/{event.id}/photos",
        files=[("files", ("big.png", image_bytes(size=(200, 200), fmt="PNG")))],
        headers=token_headers(client, "p@example.com"),
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["code"] == "too_many_pixels"


def test_uploads_to_a_closed_event_are_refused(client: TestClient, session: Session) -> None:
    owner = create_user(session, email="p@example.com")
    event = create_event(session, owner=owner)
    headers = token_headers(client, "p@example.com")
    client.patch(f"/api/events/{event.id}", json={"status": "closed"}, headers=headers)
    response = client.post(
        f"/api/events/{event.id}/photos",
        files=[("files", ("a.jpg", image_bytes()))],
        headers=headers,
    )
    assert response.status_code == 409
    assert response.json()["code"] == "event_closed"


def _photo_with_match(session: Session, event, attendee_id) -> Photo:  # type: ignore[no-untyped-def]
    photo = create_photo(session, event=event, storage_key="k", status="indexed", face_count=1)
    if attendee_id is not None:
        create_match(session, photo=photo, attendee_id=attendee_id)
    return photo


def test_photo_image_is_for_its_photographer_and_matched_attendees_only(
    client: TestClient, session: Session
) -> None:
    from core.storage import get_storage

    owner = create_user(session, email="owner@example.com")
    create_user(session, email="other@example.com")
    event = create_event(session, owner=owner)
    alice = register_attendee(client, event.code, email="alice@example.com")
    bob = register_attendee(client, event.code, email="bob@example.com")
    alices = _photo_with_match(session, event, alice["attendee_id"])
    nobodys = _photo_with_match(session, event, None)
    get_storage().put("k", b"\xff\xd8jpeg bytes\xff\xd9")

    def status(photo: Photo, headers: dict[str, str]) -> int:
        return client.get(f"/api/photos/{photo.id}/image", headers=headers).status_code

    assert status(alices, alice["headers"]) == 200
    assert status(alices, bob["headers"]) == 403
    assert status(nobodys, alice["headers"]) == 403
    assert status(alices, token_headers(client, "owner@example.com")) == 200
    assert status(alices, token_headers(client, "other@example.com")) == 403
    response = client.get(f"/api/photos/{alices.id}/image", headers=alice["headers"])
    assert response.content == b"\xff\xd8jpeg bytes\xff\xd9"
    assert response.headers["content-type"] == "image/jpeg"
    assert session.exec(select(Attendee)).all()


@pytest.mark.parametrize("mode", ["I;16", "RGBA", "P", "CMYK"])
def test_a_preview_of_every_accepted_mode_is_a_jpeg(
    client: TestClient, session: Session, mode: str
) -> None:
    """Pillow cannot shrink a 16-bit image: its preview was a 500. Scaled as the worker
    scales it, the brightest pixel white."""
    import io

    from PIL import Image

    image = Image.new(mode, (4000, 2400))  # big enough for Pillow to reduce before resizing
    if mode == "I;16":
        image.putdata([(x // 8) * 100 for _ in range(2400) for x in range(4000)])
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    owner = create_user(session, email="owner@example.com")
    photo = create_photo(session, event=create_event(session, owner=owner),
                         data=buffer.getvalue(), width=4000, height=2400)  # fmt: skip
    response = client.get(f"/api/photos/{photo.id}/image?size=thumb",
                          headers=token_headers(client, "owner@example.com"))  # fmt: skip
    assert (response.status_code, response.headers["content-type"]) == (200, "image/jpeg")
    thumb = Image.open(io.BytesIO(response.content))
    assert thumb.size == (480, 288)
    if mode == "I;16":
        gray = thumb.convert("L")
        assert gray.getpixel((0, 144)) < 8 and gray.getpixel((479, 144)) > 240


def test_previews_are_upright_jpegs_made_once_and_kept(
    client: TestClient, session: Session
) -> None:
    import io

    from PIL import Image

    from core.storage import preview_key

    owner = create_user(session, email="owner@example.com")
    event = create_event(session, owner=owner)
    # 1200x800 on the sensor, rotated 90° by EXIF: 800x1200 upright.
    data = image_bytes(size=(1200, 800), exif_orientation=6)
    photo = create_photo(session, event=event, data=data, width=800, height=1200)
    headers = token_headers(client, "owner@example.com")

    sizes = {}
    for size in ("thumb", "preview"):
        response = client.get(f"/api/photos/{photo.id}/image?size={size}", headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"] == "image/jpeg"
        sizes[size] = Image.open(io.BytesIO(response.content)).size
    assert sizes == {"thumb": (320, 480), "preview": (800, 1200)}
    assert (settings.storage_root / preview_key(photo.event_id, photo.id, "thumb")).is_file()

    original = client.get(f"/api/photos/{photo.id}/image?download=true", headers=headers)
    assert original.content == data
    assert original.headers["content-disposition"].startswith('attachment; filename="photo.jpg"')


def test_attachment_names_survive_any_file_name() -> None:
    from api.photos.service import attachment

    header = attachment('Zoë "best" shot.jpg')
    assert header == (
        'attachment; filename="Zo_ _best_ shot.jpg"; '
        "filename*=UTF-8''Zo%C3%AB%20%22best%22%20shot.jpg"
    )


def test_event_photos_list_their_face_boxes_but_never_encodings(
    client: TestClient, session: Session
) -> None:
    from core.models import Face

    owner = create_user(session, email="owner@example.com")
    event = create_event(session, owner=owner)
    photo = create_photo(session, event=event, width=400, height=300, face_count=2)
    for left in (200, 20):
        session.add(Face(photo_id=photo.id, event_id=event.id, top=10, right=left + 50,
                         bottom=60, left=left, encoding=[0.5] * 128, detected_width=400,
                         detected_height=300))  # fmt: skip
    session.commit()
    response = client.get(
        f"/api/events/{event.id}/photos", headers=token_headers(client, "owner@example.com")
    )
    [listed] = response.json()["data"]
    assert listed["faces"] == [
        {"top": 10, "right": 70, "bottom": 60, "left": 20},
        {"top": 10, "right": 250, "bottom": 60, "left": 200},
    ]
    assert "encoding" not in response.text


def test_the_same_bytes_again_are_the_same_photo_with_nothing_new_stored_or_queued(
    client: TestClient, session: Session, redis: Redis
) -> None:
    owner = create_user(session, email="p@example.com")
    event, other = create_event(session, owner=owner), create_event(session, owner=owner)
    headers = token_headers(client, "p@example.com")
    photo, another = image_bytes(size=(640, 480)), image_bytes(size=(640, 480), color="blue")

    def upload(event_id: object, *files: tuple[str, bytes]) -> dict:  # type: ignore[type-arg]
        parts = [("files", f) for f in files]
        response = client.post(f"/api/events/{event_id}/photos", files=parts, headers=headers)
        assert response.status_code == 202, response.text
        return dict(response.json())

    first = upload(event.id, ("IMG_1.jpg", photo), ("IMG_1 copy.jpg", photo), ("b.jpg", another))
    assert (first["accepted"], first["duplicates"], first["rejected"]) == (2, 1, 0)
    original, copy, _ = first["data"]
    assert (copy["id"], copy["duplicate"], original["duplicate"]) == (original["id"], True, False)

    again = upload(event.id, ("renamed.jpg", photo))
    assert (again["accepted"], again["duplicates"]) == (0, 1)
    assert again["data"][0]["id"] == original["id"]
    assert len(session.exec(select(Photo).where(Photo.event_id == event.id)).all()) == 2
    assert len(_stored_files()) == 2
    assert JobQueue(redis).depths()["photos"] == 2, "no extra job"

    elsewhere = upload(other.id, ("IMG_1.jpg", photo))
    assert (elsewhere["accepted"], elsewhere["duplicates"]) == (1, 0), "per event, not global"


def test_hashes_first_the_event_says_which_files_it_has(
    client: TestClient, session: Session
) -> None:
    import hashlib

    owner = create_user(session, email="p@example.com")
    event, other = create_event(session, owner=owner), create_event(session, owner=owner)
    headers = token_headers(client, "p@example.com")
    have, lack = image_bytes(size=(320, 240)), image_bytes(size=(320, 240), color="green")
    client.post(f"/api/events/{event.id}/photos", files=[("files", ("a.jpg", have))],
                headers=headers)  # fmt: skip
    digests = [hashlib.sha256(d).hexdigest() for d in (have, lack)]

    def ask(event_id: object, sha256: list[str]):  # type: ignore[no-untyped-def]
        return client.post(f"/api/events/{event_id}/photos/known", json={"sha256": sha256},
                           headers=headers)  # fmt: skip

    assert ask(event.id, digests).json() == {"known": [digests[0]]}
    assert ask(other.id, digests).json() == {"known": []}, "per event"
    assert ask(event.id, ["A" * 64]).status_code == 422, "lower-case hex only"
    assert ask(event.id, ["0" * 64] * 2001).status_code == 422, "2,000 a request at most"


def test_two_requests_racing_with_the_same_bytes_store_one_photo(
    client: TestClient, session: Session, redis: Redis, monkeypatch: object
) -> None:
    """The lookup misses in both; the unique index decides, and the loser's file goes."""
    from api.photos import repository, service

    owner = create_user(session, email="p@example.com")
    event = create_event(session, owner=owner)
    headers = token_headers(client, "p@example.com")
    data = image_bytes(size=(320, 240))
    response = client.post(f"/api/events/{event.id}/photos", files=[("files", ("a.jpg", data))],
                           headers=headers)  # fmt: skip
    winner = response.json()["data"][0]["id"]
    real, calls = repository.get_photo_by_content, []

    def lookup(*args: object) -> object:
        calls.append(args)  # the loser's first lookup runs before the winner's commit
        return None if len(calls) == 1 else real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(service.repository, "get_photo_by_content", lookup)  # type: ignore[attr-defined]
    response = client.post(f"/api/events/{event.id}/photos", files=[("files", ("b.jpg", data))],
                           headers=headers)  # fmt: skip
    assert response.status_code == 202, response.text
    result = response.json()["data"][0]
    assert (result["id"], result["duplicate"], result["filename"]) == (winner, True, "b.jpg")
    assert len(calls) == 2, "missed, lost the race at the unique index, looked again"
    assert len(session.exec(select(Photo)).all()) == 1
    assert len(_stored_files()) == 1
    assert JobQueue(redis).depths()["photos"] == 1


def test_deleting_a_photo_leaves_no_row_file_preview_or_job_and_is_audited(
    client: TestClient, session: Session, redis: Redis
) -> None:
    from sqlalchemy import text

    from core.models import AuditEntry, Face, FaceNearest, MatchRejection

    owner = create_user(session, email="p@example.com")
    create_user(session, email="other@example.com")
    event = create_event(session, owner=owner)
    headers = token_headers(client, "p@example.com")
    attendee = register_attendee(client, event.code)
    indexed = create_photo(session, event=event, status="indexed", data=image_bytes())
    indexed_id = indexed.id
    create_match(session, photo=indexed, attendee_id=attendee["attendee_id"])
    face = session.exec(select(Face).where(Face.photo_id == indexed.id)).one()
    nearest = FaceNearest(face_id=face.id, event_id=event.id, photo_id=indexed.id, quality=0.9,
                          attendee_id=attendee["attendee_id"], distance=0.3)  # fmt: skip
    session.add(nearest)
    session.add(MatchRejection(attendee_id=attendee["attendee_id"], photo_id=indexed.id))
    session.commit()
    for size in ("thumb", "preview"):  # made on first view, and stored
        assert (
            client.get(f"/api/photos/{indexed.id}/image?size={size}", headers=headers).status_code
            == 200
        )
    files_before = len(_stored_files())
    upload = client.post(f"/api/events/{event.id}/photos", headers=headers,
                         files=[("files", ("new.jpg", image_bytes(color="red")))])  # fmt: skip
    pending = upload.json()["data"][0]["id"]
    jobs = JobQueue(redis)
    assert jobs.is_active(index_photo(pending).job_id)

    other = token_headers(client, "other@example.com")
    assert client.delete(f"/api/photos/{indexed.id}", headers=other).status_code == 403
    response = client.delete(f"/api/photos/{indexed.id}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json() == {"faces": 1, "matches": 1}
    assert client.delete(f"/api/photos/{pending}", headers=headers).json() == {
        "faces": 0,
        "matches": 0,
    }

    session.expire_all()
    for table in ("photos", "faces", "face_nearest", "matches", "match_rejections"):
        assert session.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 0, table
    assert files_before == 3, "the original and both previews, before"
    assert _stored_files() == [], "those, and the pending upload's file"
    assert not jobs.is_active(index_photo(pending).job_id)
    assert jobs.depths()["photos"] == 0
    entries = session.exec(select(AuditEntry).where(AuditEntry.reason == "photo_deleted")).all()
    audit = {(e.action.value, e.count, e.reason, e.subject_id) for e in entries}
    assert audit == {
        ("face_encodings.deleted", 1, "photo_deleted", indexed_id),
        ("matches.deleted", 1, "photo_deleted", indexed_id),
    }, "the pending photo had no faces found yet: no biometric data to record"
    assert client.delete(f"/api/photos/{indexed_id}", headers=headers).status_code == 404
    assert client.get("/api/me/photos", headers=attendee["headers"]).json()["count"] == 0
    # Its face counted in its attendee's look-alike groups: the event's rematch groups them
    # again (once, however many photos go), and is owed until it has run.
    assert jobs.is_active(rematch_event(event.id).job_id)
    assert jobs.depths()["maintenance"] == 1
    session.refresh(event)
    assert event.rematch_requested_at is not None


def test_a_preview_made_while_its_photo_is_deleted_does_not_outlive_it(
    client: TestClient, session: Session, monkeypatch: object
) -> None:
    from api.photos import service
    from core.storage import get_storage

    owner = create_user(session, email="p@example.com")
    event = create_event(session, owner=owner)
    headers = token_headers(client, "p@example.com")
    photo = create_photo(session, event=event, status="indexed", data=image_bytes())
    real = service.make_preview

    def deleted_meanwhile(data: bytes, side: int, marking: object) -> bytes:
        get_storage().delete(photo.storage_key)  # the deletion's commit, mid-request
        return real(data, side, marking)

    monkeypatch.setattr(service, "make_preview", deleted_meanwhile)  # type: ignore[attr-defined]
    response = client.get(f"/api/photos/{photo.id}/image?size=thumb", headers=headers)
    assert response.status_code == 404
    assert response.json()["code"] == "photo_not_found"
    assert _stored_files() == []
    again = client.get(f"/api/photos/{photo.id}/image?size=preview", headers=headers)
    assert (again.status_code, _stored_files()) == (404, []), "the original gone: nothing made"


def test_the_photographer_sees_who_was_found_in_a_photo_nearest_first(
    client: TestClient, session: Session
) -> None:
    owner = create_user(session, email="p@example.com")
    event = create_event(session, owner=owner)
    photo = create_photo(session, event=event, status="indexed")
    far, near = register_attendee(client, event.code), register_attendee(client, event.code)
    create_match(session, photo=photo, attendee_id=far["attendee_id"], distance=0.5)
    create_match(session, photo=photo, attendee_id=near["attendee_id"], distance=0.3)
    headers = token_headers(client, "p@example.com")

    people = client.get(f"/api/photos/{photo.id}/people", headers=headers).json()["data"]
    assert [(p["attendee_id"], p["name"], p["distance"]) for p in people] == [
        (near["attendee_id"], "Attendee", 0.3),
        (far["attendee_id"], "Attendee", 0.5),
    ]
    assert people[0]["face"] == {"top": 0, "right": 1, "bottom": 1, "left": 0}
    empty = create_photo(session, event=event, status="indexed")
    assert client.get(f"/api/photos/{empty.id}/people", headers=headers).json() == {"data": []}
    create_user(session, email="q@example.com")
    other = client.get(
        f"/api/photos/{photo.id}/people", headers=token_headers(client, "q@example.com")
    )
    assert (other.status_code, other.json()["code"]) == (403, "not_owner")
    assert client.get(f"/api/photos/{photo.id}/people", headers=near["headers"]).status_code == 403


def test_the_event_downloads_as_a_zip_through_a_short_lived_link_only_for_its_path(
    client: TestClient, session: Session, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import io
    import zipfile

    from api.auth import security

    owner = create_user(session, email="p@example.com")
    event, other = create_event(session, owner=owner), create_event(session, owner=owner)
    photos = [create_photo(session, event=event, data=f"jpeg{n}".encode(), filename="same.jpg",
                           status="indexed") for n in range(3)]  # fmt: skip
    attendee = register_attendee(client, event.code)
    create_match(session, photo=photos[1], attendee_id=attendee["attendee_id"])
    headers = token_headers(client, "p@example.com")

    def link(event_id, matched_only: bool = False) -> str:  # type: ignore[no-untyped-def]
        response = client.post(f"/api/events/{event_id}/archive-link?matched_only={matched_only}",
                               headers=headers)  # fmt: skip
        assert response.status_code == 200, response.text
        return str(response.json()["url"])

    everything = client.get(link(event.id))  # no bearer token: the link is enough
    assert everything.status_code == 200
    assert everything.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(everything.content))
    assert archive.namelist() == ["same.jpg", "same-2.jpg", "same-3.jpg"]
    assert [archive.read(n) for n in archive.namelist()] == [b"jpeg0", b"jpeg1", b"jpeg2"]
    matched = zipfile.ZipFile(io.BytesIO(client.get(link(event.id, True)).content))
    assert [matched.read(n) for n in matched.namelist()] == [b"jpeg1"]

    once = link(event.id)
    assert client.get(once).status_code == 200
    replayed = client.get(once)
    assert (replayed.status_code, replayed.json()["code"]) == (401, "invalid_link"), "single use"
    token = link(other.id).split("link=")[1]
    assert len(token) == 32 and "." not in token, "an opaque id, not a signed token for logs"
    stolen = client.get(f"/api/events/{event.id}/archive?link={token}")
    assert (stolen.status_code, stolen.json()["code"]) == (401, "invalid_link"), "another path"
    assert client.get(link(event.id, True).replace("true", "false")).status_code == 401
    as_bearer = client.get("/api/users/me", headers={"Authorization": f"Bearer {token}"})
    assert as_bearer.status_code == 401, "a link's id is no access token"
    access = headers["Authorization"].removeprefix("Bearer ")
    assert client.get(f"/api/events/{event.id}/archive?link={access}").status_code == 422
    monkeypatch.setattr(security, "DOWNLOAD_LINK_SECONDS", 1)
    expiring = link(event.id)
    time.sleep(1.5)
    expired = client.get(expiring)
    assert (expired.status_code, expired.json()["code"]) == (401, "invalid_link")
    monkeypatch.undo()
    unspent = link(event.id)
    assert client.post("/api/auth/sign-out", headers=headers).status_code == 200
    after = client.get(unspent)
    assert (after.status_code, after.json()["code"]) == (401, "session_ended"), "dies with it"
    headers = token_headers(client, "p@example.com")
    create_user(session, email="q@example.com")
    refused = client.post(f"/api/events/{event.id}/archive-link",
                          headers=token_headers(client, "q@example.com"))  # fmt: skip
    assert refused.status_code == 403


def test_the_photo_list_and_its_count_are_of_one_moment_while_uploads_arrive(
    client: TestClient, session: Session
) -> None:
    """The page is read, then the count: a photo committed between them is in neither
    (`api.deps.SnapshotDep`), so the studio never shows "1 of 2" or "2 of 1"."""
    event, headers = owned_event(session)
    create_photo(session, event=event, filename="first.jpg")

    def a_photo_arrives() -> object:
        return create_photo(session, event=event, filename="second.jpg")

    with committed_after("LIMIT", a_photo_arrives):
        during = client.get(f"/api/events/{event.id}/photos", headers=headers).json()
    assert (during["count"], [p["filename"] for p in during["data"]]) == (1, ["first.jpg"])
    after = client.get(f"/api/events/{event.id}/photos", headers=headers).json()
    assert after["count"] == len(after["data"]) == 2
