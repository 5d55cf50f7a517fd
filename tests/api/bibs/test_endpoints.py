"""Start lists, bib search, bib passes, and "my photos" by face and by bib.

The reads are stored as the worker stores them (photo_bibs rows); the reading itself is
tested in tests/workers/test_bibs.py."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from core.config import settings
from core.models import Attendee, BibPass, Event, Photo, PhotoBib, Runner, utcnow
from tests.helpers import (
    create_event,
    create_match,
    create_photo,
    create_user,
    image_bytes,
    mailed,
    mailed_all,
    register_attendee,
    session_token,
)


def _race(session: Session, **fields: object) -> tuple[Event, dict[str, str]]:
    owner = create_user(session)
    event = create_event(session, owner=owner, name="City Run")
    for name, value in {"bibs_enabled": True, **fields}.items():
        setattr(event, name, value)
    session.add(event)
    session.commit()
    return event, {"Authorization": f"Bearer {session_token(session, owner)}"}


def _photo_with(session: Session, event: Event, reads: dict[str, float]) -> Photo:
    """An indexed photo whose bibs were read as the worker reads them."""
    photo = create_photo(session, event=event, data=image_bytes(), status="indexed",
                         bibs_read_at=utcnow())  # fmt: skip
    for bib, confidence in reads.items():
        session.add(PhotoBib(photo_id=photo.id, event_id=event.id, bib=bib, top=1, right=9,
                             bottom=5, left=2, confidence=confidence))  # fmt: skip
    session.commit()
    return photo


def _upload(client: TestClient, event: Event, headers: dict[str, str], csv: bytes):  # type: ignore[no-untyped-def]
    return client.put(
        f"/api/events/{event.id}/start-list", files={"file": ("start.csv", csv)}, headers=headers
    )


def _runners(session: Session, event: Event) -> dict[str, tuple[str | None, str | None]]:
    session.expire_all()
    rows = session.exec(select(Runner).where(col(Runner.event_id) == event.id)).all()
    return {r.bib: (r.name, r.email) for r in rows}


# Start lists -------------------------------------------------------------------------


def test_a_start_list_is_imported_from_a_spreadsheets_csv(
    client: TestClient, session: Session
) -> None:
    event, headers = _race(session)
    # Excel's "CSV UTF-8": a byte-order mark, semicolons, CRLF, headers in its own words.
    csv = "\ufeffDossard;Name;E-mail\r\n0042;Zoë Ng;ZOE@Example.com\r\n7;Sam;\r\n\r\n".encode()
    response = _upload(client, event, headers, csv)
    assert response.status_code == 200, response.text
    assert response.json() == {"runners": 2, "with_email": 1}
    assert _runners(session, event) == {"42": ("Zoë Ng", "zoe@example.com"), "7": ("Sam", None)}

    listed = client.get(f"/api/events/{event.id}/start-list", headers=headers).json()
    assert listed["count"] == 2 and {r["bib"] for r in listed["data"]} == {"42", "7"}

    assert _upload(client, event, headers, b"bib,name\n9,Ada\n").json()["runners"] == 1
    assert _runners(session, event) == {"9": ("Ada", None)}  # replaced, not added to
    assert client.delete(f"/api/events/{event.id}/start-list", headers=headers).status_code == 204
    assert _runners(session, event) == {}


def test_a_start_list_with_bad_lines_is_refused_whole_with_each_lines_error(
    client: TestClient, session: Session
) -> None:
    event, headers = _race(session, bib_min=1, bib_max=5000)
    assert _upload(client, event, headers, b"bib,name\n1,Kept\n").status_code == 200
    csv = (
        b"name,bib,email\n"
        b"Ann,12,ann@example.com\n"  # good
        b"Bo,12a,\n"  # line 3: not a number
        b"Cy,,\n"  # line 4: no bib
        b"Di,9000,\n"  # line 5: outside the event's range
        b"Ed,0012,\n"  # line 6: 12 again
        b"Flo,13,not-an-address\n"  # line 7
    )
    response = _upload(client, event, headers, csv)
    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "bad_start_list"
    assert body["detail"]["error_count"] == 5
    assert [(e["row"], e["column"], e["error"]) for e in body["detail"]["errors"]] == [
        (3, "bib", "bad_bib"),
        (4, "bib", "missing_bib"),
        (5, "bib", "bib_out_of_range"),
        (6, "bib", "duplicate_bib"),
        (7, "email", "bad_email"),
    ]
    assert _runners(session, event) == {"1": ("Kept", None)}, "nothing half-stored"


@pytest.mark.parametrize(
    ("csv", "code", "error"),
    [
        (b"name,email\nAnn,a@example.com\n", "bad_start_list", "missing_bib_column"),
        (b"bib\n1\n\xff\xfe\n", "bad_start_list", "not_utf8"),
        (b"bib,name\n", "empty_start_list", None),
    ],
)
def test_a_start_list_that_is_no_list_says_why(
    client: TestClient, session: Session, csv: bytes, code: str, error: str | None
) -> None:
    event, headers = _race(session)
    response = _upload(client, event, headers, csv)
    assert response.status_code == 422
    assert response.json()["code"] == code
    assert [e["error"] for e in response.json()["detail"]["errors"]] == ([error] if error else [])
    assert _runners(session, event) == {}


# Search where it is open --------------------------------------------------------------


def test_an_open_search_shows_a_bibs_photos_without_a_selfie(
    client: TestClient, session: Session
) -> None:
    event, _ = _race(session, bib_search="open")
    sure = _photo_with(session, event, {"42": 0.99, "7": 0.99})
    _photo_with(session, event, {"42": settings.BIB_MIN_CONFIDENCE - 0.05})  # not sure enough
    other = _photo_with(session, event, {"8": 0.99})

    response = client.get(f"/api/e/{event.code}/bibs/0042/photos")
    assert response.status_code == 200
    body = response.json()
    assert body["bib"] == "42" and body["uses_biometrics"] is False
    assert [p["id"] for p in body["data"]] == [str(sure.id)] and body["count"] == 1
    image = client.get(body["data"][0]["thumb_url"])
    assert image.status_code == 200 and image.headers["content-type"] == "image/jpeg"
    # Another bib's photo is not reached through this one's address.
    stray = client.get(f"/api/e/{event.code}/bibs/42/photos/{other.id}/image")
    assert stray.status_code == 404
    assert client.get(f"/api/e/{event.code}/bibs/4x2/photos").json()["code"] == "bad_bib"


def test_a_range_and_a_start_list_limit_what_counts_as_a_bib(
    client: TestClient, session: Session
) -> None:
    event, headers = _race(session, bib_search="open", bib_min=100, bib_max=999)
    _photo_with(session, event, {"42": 0.99, "420": 0.99, "421": 0.99})
    found = lambda bib: client.get(f"/api/e/{event.code}/bibs/{bib}/photos").json()["count"]  # noqa: E731
    assert (found("42"), found("420"), found("421")) == (0, 1, 1)
    _upload(client, event, headers, b"bib\n420\n")
    assert (found("420"), found("421")) == (1, 0)


def test_bibs_of_an_event_that_reads_none_are_not_searched(
    client: TestClient, session: Session
) -> None:
    event, _ = _race(session, bibs_enabled=False, bib_search="open")
    response = client.get(f"/api/e/{event.code}/bibs/42/photos")
    assert (response.status_code, response.json()["code"]) == (404, "bibs_off")


# Passes: the runner's own link ---------------------------------------------------------


def test_by_default_only_the_runner_sees_a_bibs_photos_by_a_mailed_pass(
    client: TestClient, session: Session
) -> None:
    event, headers = _race(session)
    photo = _photo_with(session, event, {"42": 0.99})
    _upload(client, event, headers, b"bib,email\n42,runner@example.com\n43,\n")

    searched = client.get(f"/api/e/{event.code}/bibs/42/photos")
    assert (searched.status_code, searched.json()["code"]) == (403, "bib_search_by_link")
    url = f"/api/e/{event.code}/bib-passes"
    answers = [client.post(url, json={"bib": bib}) for bib in ("42", "43", "44")]
    assert {a.status_code for a in answers} == {202}
    assert len({a.text for a in answers}) == 1, "the answer tells no bib from another"
    mail = mailed("runner@example.com")[0]
    link = next(u for u in mail.links if "/bib#" in u)
    assert "bib 42" in mail.subject
    token = link.split("/bib#", 1)[1]
    assert session.exec(select(BibPass)).one().token_sha256 != token, "only a digest is kept"

    photos = client.get(f"/api/bib-passes/{token}/photos").json()
    assert [p["id"] for p in photos["data"]] == [str(photo.id)]
    assert photos["uses_biometrics"] is False
    assert client.get(photos["data"][0]["preview_url"]).status_code == 200
    assert client.get("/api/bib-passes/not-a-pass/photos").status_code == 404


def test_an_expired_pass_shows_nothing(client: TestClient, session: Session) -> None:
    event, headers = _race(session)
    _photo_with(session, event, {"42": 0.99})
    _upload(client, event, headers, b"bib,email\n42,late@example.com\n")
    client.post(f"/api/e/{event.code}/bib-passes", json={"bib": "42"})
    token = next(u for u in mailed("late@example.com")[0].links if "/bib#" in u).split("#")[1]
    bib_pass = session.exec(select(BibPass)).one()
    bib_pass.expires_at = utcnow() - timedelta(seconds=1)
    session.add(bib_pass)
    session.commit()
    response = client.get(f"/api/bib-passes/{token}/photos")
    assert (response.status_code, response.json()["code"]) == (404, "pass_not_found")


def test_no_pass_goes_out_for_a_bib_without_an_address(
    client: TestClient, session: Session
) -> None:
    event, headers = _race(session)
    _upload(client, event, headers, b"bib,name,email\n43,Nobody,\n")
    assert client.post(f"/api/e/{event.code}/bib-passes", json={"bib": "43"}).status_code == 202
    assert session.exec(select(BibPass)).all() == []


# "My photos": face matches and the attendee's bib -----------------------------------------


def test_my_photos_are_my_face_matches_and_my_bibs_each_marked_how_found(
    client: TestClient, session: Session
) -> None:
    event, headers = _race(session)
    _upload(client, event, headers, b"bib,email\n42,me@example.com\n")
    me = register_attendee(client, event.code, email="me@example.com")
    by_face = create_photo(session, event=event, data=image_bytes(), status="indexed")
    create_match(session, photo=by_face, attendee_id=me["attendee_id"])
    by_bib = _photo_with(session, event, {"42": 0.99})
    both = _photo_with(session, event, {"42": 0.97})
    create_match(session, photo=both, attendee_id=me["attendee_id"])
    _photo_with(session, event, {"43": 0.99})

    def mine() -> dict[str, list[str]]:
        page = client.get("/api/me/photos", headers=me["headers"]).json()
        assert page["count"] == len(page["data"])
        return {p["id"]: p["found_by"] for p in page["data"]}

    assert mine() == {str(by_face.id): ["face"], str(both.id): ["face"]}
    # The runner's pass, opened while signed in, adds the bib.
    client.post(f"/api/e/{event.code}/bib-passes", json={"bib": "42"})
    link = next(u for u in mailed("me@example.com", count=2)[0].links if "/bib#" in u)
    claim = client.post(f"/api/bib-passes/{link.split('#')[1]}/claim", headers=me["headers"])
    assert claim.json() == {"bib": "42"}
    assert mine() == {
        str(by_face.id): ["face"],
        str(by_bib.id): ["bib"],
        str(both.id): ["face", "bib"],
    }
    assert client.get(f"/api/photos/{by_bib.id}/image", headers=me["headers"]).status_code == 200

    # "Not me" works on a photo found by bib, and takes its image away too.
    hide = client.post(f"/api/me/photos/{by_bib.id}/not-me", headers=me["headers"])
    assert hide.status_code == 204
    assert str(by_bib.id) not in mine()
    assert client.get(f"/api/photos/{by_bib.id}/image", headers=me["headers"]).status_code == 403
    client.delete(f"/api/me/photos/{by_bib.id}/not-me", headers=me["headers"])
    assert str(by_bib.id) in mine()

    assert client.delete("/api/me/bib", headers=me["headers"]).json() == {"bib": None}
    assert set(mine()) == {str(by_face.id), str(both.id)}


def test_a_bib_is_said_freely_only_where_search_is_open(
    client: TestClient, session: Session
) -> None:
    closed, _ = _race(session)
    me = register_attendee(client, closed.code)
    refused = client.put("/api/me/bib", json={"bib": "42"}, headers=me["headers"])
    assert (refused.status_code, refused.json()["code"]) == (403, "bib_needs_link")

    opened, _ = _race(session, bib_search="open", bib_max=500)
    you = register_attendee(client, opened.code)
    photo = _photo_with(session, opened, {"42": 0.99})
    unknown = client.put("/api/me/bib", json={"bib": "501"}, headers=you["headers"])
    assert (unknown.status_code, unknown.json()["code"]) == (400, "unknown_bib")
    assert client.put("/api/me/bib", json={"bib": "42"}, headers=you["headers"]).status_code == 200
    page = client.get("/api/me/photos", headers=you["headers"]).json()
    assert [(p["id"], p["found_by"], p["distance"]) for p in page["data"]] == [
        (str(photo.id), ["bib"], None)
    ]
    attendee = session.get(Attendee, uuid.UUID(you["attendee_id"]))
    assert attendee is not None and attendee.bib == "42"


def test_a_pass_of_another_event_is_not_claimed(client: TestClient, session: Session) -> None:
    race, headers = _race(session)
    _upload(client, race, headers, b"bib,email\n42,two@example.com\n")
    elsewhere, _ = _race(session)
    me = register_attendee(client, elsewhere.code, email="two@example.com")
    client.post(f"/api/e/{race.code}/bib-passes", json={"bib": "42"})
    link = next(u for u in mailed("two@example.com", count=2)[0].links if "/bib#" in u)
    refused = client.post(f"/api/bib-passes/{link.split('#')[1]}/claim", headers=me["headers"])
    assert (refused.status_code, refused.json()["code"]) == (403, "other_event")
    assert mailed_all("nobody@example.com") == []


def test_the_bib_settings_of_an_event(client: TestClient, session: Session) -> None:
    event, headers = _race(session, bibs_enabled=False)
    url = f"/api/events/{event.id}"
    changed = client.patch(url, json={"bibs_enabled": True, "bib_min": 1, "bib_max": 900,
                                      "bib_search": "open"}, headers=headers)  # fmt: skip
    assert changed.status_code == 200, changed.text
    assert {k: changed.json()[k] for k in ("bibs_enabled", "bib_min", "bib_max", "bib_search")} == {
        "bibs_enabled": True, "bib_min": 1, "bib_max": 900, "bib_search": "open",
    }  # fmt: skip
    backwards = client.patch(url, json={"bib_min": 901}, headers=headers)
    assert (backwards.status_code, backwards.json()["code"]) == (400, "bad_bib_range")
    assert client.patch(url, json={"bibs_enabled": None}, headers=headers).json()["bibs_enabled"]
