from __future__ import annotations

import io
import zipfile

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.helpers import (
    committed_after,
    create_event,
    create_match,
    create_photo,
    create_user,
    image_bytes,
    register_attendee,
)


def test_my_photos_answers_304_until_the_list_changes(client: TestClient, session: Session) -> None:
    event = create_event(session, owner=create_user(session))
    attendee = register_attendee(client, event.code)
    headers = attendee["headers"]

    first = client.get("/api/me/photos", headers=headers)
    assert first.json()["count"] == 0
    etag = first.headers["etag"]
    unchanged = client.get("/api/me/photos", headers={**headers, "If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""

    photo = create_photo(session, event=event, filename="dance.jpg", width=30, height=20)
    create_match(session, photo=photo, attendee_id=attendee["attendee_id"])
    changed = client.get("/api/me/photos", headers={**headers, "If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    [item] = changed.json()["data"]
    assert item["filename"] == "dance.jpg"
    assert item["thumb_url"] == f"/api/photos/{photo.id}/image?size=thumb"
    assert (item["width"], item["height"]) == (30, 20)


def test_the_archive_holds_exactly_my_photos_under_unique_names(
    client: TestClient, session: Session
) -> None:
    event = create_event(session, owner=create_user(session))
    me = register_attendee(client, event.code)
    other = register_attendee(client, event.code)
    mine = {}
    for color in ("red", "green"):
        data = image_bytes(color=color)
        photo = create_photo(session, event=event, data=data, filename="IMG_0001.JPG")
        create_match(session, photo=photo, attendee_id=me["attendee_id"])
        mine[photo.id] = data
    theirs = create_photo(session, event=event, data=image_bytes(), filename="theirs.jpg")
    create_match(session, photo=theirs, attendee_id=other["attendee_id"])

    response = client.get("/api/me/photos/archive", headers=me["headers"])
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/zip"
    with zipfile.ZipFile(io.BytesIO(response.content)) as archive:
        assert archive.testzip() is None
        assert sorted(archive.namelist()) == ["IMG_0001-2.JPG", "IMG_0001.JPG"]
        assert sorted(archive.read(n) for n in archive.namelist()) == sorted(mine.values())


def test_archive_names_number_repeats_before_the_extension() -> None:
    from api.archive import archive_names

    names = archive_names(["a.jpg", "A.jpg", "b.png", "a.jpg", "../../etc/passwd", ""])
    assert names == ["a.jpg", "A-2.jpg", "b.png", "a-3.jpg", "passwd", "photo"]


@pytest.mark.parametrize(("filename", "entry"), [
    ("..\\..\\Windows\\evil.jpg", "evil.jpg"), ("..", "photo"), (".", "photo"),
    ("..\\", "photo"), ("C:\\Users\\x\\IMG_1.JPG", "IMG_1.JPG"), ("a/..", "photo"),
    ("\\\\server\\share\\b.jpg", "b.jpg"), ("line\nbreak.jpg", "linebreak.jpg"),
])  # fmt: skip
def test_zip_entries_are_plain_names_for_both_separators(filename: str, entry: str) -> None:
    """A zip tool on Windows reads backslashes as folders: `..\\` would climb out."""
    from api.archive import archive_names

    assert archive_names([filename]) == [entry]


def test_an_attendee_with_300_matches_gets_them_page_by_page_without_gaps_while_more_arrive(
    client: TestClient, session: Session
) -> None:
    event = create_event(session, owner=create_user(session))
    attendee = register_attendee(client, event.code)
    headers = attendee["headers"]
    for n in range(300):
        photo = create_photo(session, event=event, filename=f"{n:03}.jpg")
        create_match(session, photo=photo, attendee_id=attendee["attendee_id"])

    first = client.get("/api/me/photos", params={"limit": 100}, headers=headers)
    seen = [item["filename"] for item in first.json()["data"]]
    assert seen == [f"{n:03}.jpg" for n in range(299, 199, -1)], "newest match first"
    late = create_photo(session, event=event, filename="late.jpg")
    create_match(session, photo=late, attendee_id=attendee["attendee_id"])
    page, pages = first.json(), 1
    while page["next_cursor"]:
        response = client.get(
            "/api/me/photos", params={"limit": 100, "cursor": page["next_cursor"]}, headers=headers
        )
        page, pages = response.json(), pages + 1
        seen += [item["filename"] for item in page["data"]]
    assert pages == 3
    assert page["count"] == 301, "the count is of every match, now"
    assert seen == [f"{n:03}.jpg" for n in range(299, -1, -1)], "a new match shifts no page"

    again = client.get("/api/me/photos", params={"limit": 100}, headers=headers)
    assert again.json()["data"][0]["filename"] == "late.jpg"
    assert again.headers["etag"] != first.headers["etag"]
    unchanged = {"If-None-Match": again.headers["etag"]}
    assert (
        client.get("/api/me/photos", params={"limit": 100}, headers={**headers, **unchanged})
    ).status_code == 304
    assert (
        client.get("/api/me/photos", params={"limit": 50}, headers={**headers, **unchanged})
    ).status_code == 200, "another page size is another page"


def test_not_me_is_listed_as_hidden_and_can_be_taken_back(
    client: TestClient, session: Session
) -> None:
    """Undone, the photo is matched again by the rules: here it is theirs, so it returns."""
    import uuid

    from core.models import Selfie
    from core.queue import MAINTENANCE
    from core.redis import get_redis
    from tests.helpers import run_jobs

    event = create_event(session, owner=create_user(session))
    attendee = register_attendee(client, event.code)
    headers = attendee["headers"]
    session.add(Selfie(attendee_id=uuid.UUID(attendee["attendee_id"]), event_id=event.id,
                       status="valid", encoding=[0.0] * 128))  # fmt: skip
    photo = create_photo(session, event=event, data=image_bytes(), status="indexed")
    create_match(session, photo=photo, attendee_id=attendee["attendee_id"])  # a face at 0.0

    assert client.post(f"/api/me/photos/{photo.id}/not-me", headers=headers).status_code == 204
    assert client.get("/api/me/photos", headers=headers).json()["count"] == 0
    hidden = client.get("/api/me/hidden-photos", headers=headers).json()["data"]
    assert [(h["id"], h["filename"]) for h in hidden] == [(str(photo.id), photo.filename)]
    thumb = f"/api/photos/{photo.id}/image?size=thumb"
    assert "thumb_url" not in hidden[0]
    assert client.get(thumb, headers=headers).status_code == 403, "access ended with the match"
    run_jobs(get_redis(), MAINTENANCE)  # the "not me" job: the face goes to nobody else
    assert client.get("/api/me/photos", headers=headers).json()["count"] == 0, "kept out"

    assert client.delete(f"/api/me/photos/{photo.id}/not-me", headers=headers).status_code == 204
    assert client.get("/api/me/hidden-photos", headers=headers).json() == {"data": []}
    run_jobs(get_redis(), MAINTENANCE)  # the photo matched again
    assert client.get("/api/me/photos", headers=headers).json()["count"] == 1, "it is theirs"
    again = client.delete(f"/api/me/photos/{photo.id}/not-me", headers=headers)
    assert (again.status_code, again.json()["code"]) == (404, "not_hidden")
    assert client.get(thumb, headers=headers).status_code == 200, "theirs again, seen again"
    other = register_attendee(client, event.code)
    assert client.get(thumb, headers=other["headers"]).status_code == 403


def test_a_page_never_lists_more_photos_than_its_count_while_matches_arrive(
    client: TestClient, session: Session
) -> None:
    """A match committed while "my photos" is read: the page and its count must be of one
    moment, or the page lists a photo its count leaves out ("2 of 1 photos")."""
    event = create_event(session, owner=create_user(session))
    attendee = register_attendee(client, event.code)
    me = attendee["attendee_id"]
    create_match(session, photo=create_photo(session, event=event), attendee_id=me)

    def a_match_arrives() -> object:
        photo = create_photo(session, event=event, filename="late.jpg")
        return create_match(session, photo=photo, attendee_id=me)

    with committed_after("WITH mine AS", a_match_arrives):
        during = client.get("/api/me/photos", headers=attendee["headers"]).json()
    assert during["count"] == len(during["data"]) == 1
    after = client.get("/api/me/photos", headers=attendee["headers"]).json()
    assert after["count"] == len(after["data"]) == 2
    assert after["data"][0]["filename"] == "late.jpg"
