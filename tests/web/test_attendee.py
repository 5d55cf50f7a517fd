"""An attendee on a phone: the QR link, registration with consent, a selfie, "my photos"."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import text
from sqlmodel import Session, select

from tests.helpers import (
    EVENT_PHOTOS,
    SELFIES,
    create_user,
    face_photo,
    mailed,
    mailed_all,
    mailed_link,
)
from tests.web.conftest import ALL_IMAGES_LOADED, Api, shot, wait_until

pytestmark = [pytest.mark.faces, pytest.mark.e2e, pytest.mark.browser]

# Obama is in three of these; obama.jpg is uploaded after his selfie, to show up by itself.
BEFORE = ["obama_and_biden.jpg", "two_people.jpg", "kit_with_rose.jpg", "dogs.jpg"]
LATER = "obama.jpg"


def _event_with_photos(api: Api, session: Session, names: list[str]) -> tuple[dict, dict, dict]:  # type: ignore[type-arg]
    create_user(session, email="photographer@example.com")
    headers = api.login("photographer@example.com")
    event = api.create_event(headers)
    ids = api.upload(headers, event, {n: face_photo(EVENT_PHOTOS[n]) for n in names})
    api.wait_indexed(headers, event, len(names))
    return event, ids, headers


def _ask_to_join(page: Any, event: dict[str, Any], email: str, *, notify: bool = False) -> None:  # type: ignore[type-arg]
    page.goto(event["join_url"])
    expect(page.locator("h1")).to_have_text(event["name"])
    form = page.locator("#register-form")
    expect(form.get_by_text("How we use your face")).to_be_visible()
    expect(form.get_by_text("The selfie image is deleted once it is checked")).to_be_visible()
    form.locator("input[name=name]").fill("Barack")
    form.locator("input[name=email]").fill(email)
    form.get_by_label("I consent").check()
    if notify:
        form.get_by_label("Mail me when new photos of me arrive").check()
    form.get_by_role("button", name="Join").click()
    expect(page.locator("#check-mail")).to_contain_text(email)


def _register(page: Any, event: dict[str, Any], email: str) -> None:  # type: ignore[type-arg]
    """Join through the page, and open the mailed link (read from the test SMTP server)."""
    before = len(mailed_all(email))
    _ask_to_join(page, event, email)
    page.goto(mailed_link(email, count=before + 1))
    expect(page.locator("#selfie")).to_be_visible()


def _registered_with_a_selfie(page: Any, session: Session, event: Any, email: str) -> Any:
    """Registered through the page, with a valid selfie at the origin (as if judged): a
    face of all zeros matches them."""
    from core.models import Attendee, Selfie

    _register(page, {"join_url": f"/e/{event.code}", "name": event.name}, email)
    attendee = session.exec(select(Attendee).where(Attendee.event_id == event.id)).one()
    session.add(Selfie(attendee_id=attendee.id, event_id=event.id, status="valid",
                       encoding=[0.0] * 128))  # fmt: skip
    session.commit()
    return attendee


def _pick_selfie(page: Any, name: str, data: bytes, mime: str = "image/jpeg") -> None:
    page.locator("#selfie-file").set_input_files(
        files=[{"name": name, "mimeType": mime, "buffer": data}]
    )


def _heic(jpeg: bytes) -> bytes:
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    Image.open(io.BytesIO(jpeg)).save(out, format="HEIF", quality=85)
    return out.getvalue()


def _photo_ids(page: Any) -> set[str]:
    return set(
        page.locator("#photo-grid li").evaluate_all("els => els.map(e => e.dataset.photoId)")
    )


def test_an_attendee_finds_their_photos_from_the_qr_link(
    api: Api, phone: Any, session: Session, faces_dir: Path, tmp_path: Path
) -> None:
    event, ids, headers = _event_with_photos(api, session, BEFORE)
    page = phone
    page.goto(event["join_url"])
    shot(page, "attendee-1-register")
    _register(page, event, "barack@example.com")
    shot(page, "attendee-2-selfie")

    _pick_selfie(page, "selfie.jpg", face_photo(SELFIES["obama"]))
    expect(page.locator("#gallery")).to_be_visible(timeout=60_000)
    expect(page.locator("#photo-grid li")).to_have_count(2)
    assert _photo_ids(page) == {ids["obama_and_biden.jpg"], ids["two_people.jpg"]}
    wait_until(page, ALL_IMAGES_LOADED)
    shot(page, "attendee-3-my-photos")

    # The full-size view, and a download of the original file.
    page.locator(f"li[data-photo-id='{ids['two_people.jpg']}'] button").click()
    expect(page.locator("#viewer")).to_be_visible()
    wait_until(page, "() => document.getElementById('viewer-img').naturalWidth > 0")
    shot(page, "attendee-4-full-size")
    with page.expect_download() as download:
        page.locator("#viewer-download").click()
    assert download.value.suggested_filename == "two_people.jpg"
    assert Path(download.value.path()).read_bytes() == face_photo(EVENT_PHOTOS["two_people.jpg"])
    page.locator("#viewer-close").click()

    with page.expect_download() as download:
        page.get_by_role("button", name="Download all (zip)").click()
    with zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes())) as archive:
        assert sorted(archive.namelist()) == ["obama_and_biden.jpg", "two_people.jpg"]

    # A photo uploaded now appears without a reload.
    later = api.upload(headers, event, {LATER: face_photo(EVENT_PHOTOS[LATER])})
    expect(page.locator("#photo-grid li")).to_have_count(3, timeout=60_000)
    assert later[LATER] in _photo_ids(page)

    # "Not me" takes a photo out, for good.
    page.locator(f"li[data-photo-id='{ids['two_people.jpg']}'] button").click()
    page.locator("#viewer-not-me").click()
    expect(page.locator("#photo-grid li")).to_have_count(2)
    assert ids["two_people.jpg"] not in _photo_ids(page)
    rejected = session.connection().execute(text("SELECT count(*) FROM match_rejections"))
    assert rejected.scalar_one() == 1

    # Deleting the face data empties the page and the database.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Delete my face data").click()
    expect(page.locator("#selfie-status")).to_contain_text("Deleted 1 face encoding and 2 matches")
    expect(page.locator("#gallery")).to_be_hidden()
    shot(page, "attendee-5-deleted")
    left = session.connection().execute(
        text("SELECT (SELECT count(*) FROM selfies), (SELECT count(*) FROM matches)")
    )
    assert tuple(left.one()) == (0, 0)


def test_a_rejected_selfie_shows_its_retake_hint(
    api: Api, phone: Any, session: Session, faces_dir: Path
) -> None:
    event, _, _ = _event_with_photos(api, session, ["obama_and_biden.jpg"])
    page = phone
    _register(page, event, "pair@example.com")

    _pick_selfie(page, "us.jpg", face_photo(EVENT_PHOTOS["two_people.jpg"]))
    hint = page.locator("#selfie-rejected")
    expect(hint).to_be_visible(timeout=60_000)
    expect(hint.locator("h3")).to_have_text("More than one face")
    expect(hint).to_contain_text("take a selfie on your own")
    shot(page, "attendee-6-rejected-two-faces")

    # Refused at upload, before any worker: not an image at all.
    _pick_selfie(page, "selfie.jpg", b"these are not the pixels you are looking for")
    expect(hint.locator("h3")).to_have_text("That file is not a photo")
    shot(page, "attendee-7-rejected-not-an-image")

    # A good selfie afterwards is accepted, in the HEIC an iPhone takes.
    _pick_selfie(page, "IMG_0042.HEIC", _heic(face_photo(SELFIES["obama"])), mime="image/heic")
    expect(page.locator("#gallery")).to_be_visible(timeout=60_000)
    expect(page.locator("#photo-grid li")).to_have_count(1)


def test_an_unknown_event_code_says_so(phone: Any) -> None:
    phone.goto("/e/AAA-AAA")
    expect(phone.get_by_role("alert")).to_contain_text("No event has the code")
    phone.get_by_label("Event code").fill("nope")
    phone.get_by_role("button", name="Continue").click()
    expect(phone.get_by_role("alert")).to_contain_text("“nope”")


def test_an_attendee_with_many_photos_gets_them_page_by_page(phone: Any, session: Session) -> None:
    """130 matches: the gallery reads them a page at a time as it scrolls, each once."""
    from tests.helpers import create_event, create_match, create_photo

    event = create_event(session, owner=create_user(session))
    page = phone
    attendee = _registered_with_a_selfie(page, session, event, "runner@example.com")
    session.commit()
    for n in range(130):
        photo = create_photo(session, event=event, filename=f"{n:03}.jpg", status="indexed")
        create_match(session, photo=photo, attendee_id=attendee.id)
    page.reload()
    expect(page.locator("#gallery")).to_be_visible()
    expect(page.locator("#photo-count")).to_have_text("130")
    tiles = page.locator("#photo-grid li")
    expect(tiles.first).to_be_visible()
    assert tiles.count() < 130
    while tiles.count() < 130:
        count = tiles.count()
        tiles.last.scroll_into_view_if_needed()
        wait_until(page, f"() => document.querySelectorAll('#photo-grid li').length > {count}")
    expect(page.locator("#more-photos")).to_be_hidden()
    assert len(_photo_ids(page)) == 130


def test_a_returning_attendee_signs_back_in_after_the_event_closed(
    browser: Any, live_api: str, session: Session
) -> None:
    """On another phone, after the event closed: the page offers sign-in, not registration,
    and their photos are there."""
    from core.models import Attendee, Event, Selfie
    from tests.helpers import create_event, create_match, create_photo
    from tests.web.conftest import PHONE

    event = create_event(session, owner=create_user(session), name="Closed race")
    first_phone = browser.new_context(base_url=live_api, **PHONE).new_page()
    _register(
        first_phone, {"join_url": f"/e/{event.code}", "name": event.name}, "runner@example.com"
    )
    first_phone.context.close()
    attendee = session.exec(select(Attendee).where(Attendee.event_id == event.id)).one()
    session.add(Selfie(attendee_id=attendee.id, event_id=event.id, status="valid",
                       encoding=[0.0] * 128))  # fmt: skip
    for n in range(3):
        photo = create_photo(session, event=event, filename=f"{n}.jpg", status="indexed")
        create_match(session, photo=photo, attendee_id=attendee.id)
    closed = session.get(Event, event.id)
    assert closed is not None
    closed.status = "closed"
    session.add(closed)
    session.commit()

    other_phone = browser.new_context(base_url=live_api, **PHONE).new_page()
    other_phone.goto(f"/e/{event.code}")
    expect(other_phone.locator("#closed")).to_be_visible()
    expect(other_phone.locator("#register")).to_be_hidden()
    other_phone.locator("#sign-in-form").get_by_label("Email").fill("runner@example.com")
    other_phone.get_by_role("button", name="Mail me a sign-in link").click()
    expect(other_phone.locator("#check-mail")).to_contain_text("runner@example.com")
    other_phone.goto(mailed_link("runner@example.com", count=2))
    expect(other_phone.locator("#gallery")).to_be_visible()
    expect(other_phone.locator("#photo-count")).to_have_text("3")
    shot(other_phone, "attendee-closed-event-signed-in")
    other_phone.context.close()


def test_an_attendee_deletes_their_account_from_the_gallery(phone: Any, session: Session) -> None:
    from core.models import Selfie, User
    from tests.helpers import create_event, create_match, create_photo

    event = create_event(session, owner=create_user(session))
    page = phone
    attendee = _registered_with_a_selfie(page, session, event, "leaving@example.com")
    create_match(session, photo=create_photo(session, event=event, status="indexed"),
                 attendee_id=attendee.id)  # fmt: skip
    page.reload()
    expect(page.locator("#photo-count")).to_have_text("1")
    form = page.locator("#delete-account-form")
    form.get_by_label("Email").fill("someone@example.com")
    page.once("dialog", lambda dialog: dialog.accept())
    form.get_by_role("button", name="Delete my account").click()
    expect(page.locator("#delete-account-error")).to_contain_text("type this account's email")
    form.get_by_label("Email").fill("leaving@example.com")
    page.once("dialog", lambda dialog: dialog.accept())
    form.get_by_role("button", name="Delete my account").click()
    expect(page.locator("#delete-account-mailed")).to_contain_text("Check your mail")
    session.expire_all()
    assert session.exec(select(User).where(User.email == "leaving@example.com")).all() != []
    newest = mailed("leaving@example.com", count=2)[0]
    page.goto(next(u for u in newest.links if "/delete-account#" in u))
    page.get_by_role("button", name="Delete my account").click()
    expect(page.locator("#delete-done")).to_contain_text("1 event registration")
    assert "#" not in page.url, "the spent token left the address bar"
    session.expire_all()
    assert session.exec(select(User).where(User.email == "leaving@example.com")).all() == []
    assert session.exec(select(Selfie)).all() == []


def test_not_me_can_be_undone_at_once_or_restored_later(phone: Any, session: Session) -> None:
    """The undo bar brings the photo back; later, the list of hidden photos does."""
    from tests.helpers import create_event, create_match, create_photo, image_bytes

    event = create_event(session, owner=create_user(session))
    page = phone
    attendee = _registered_with_a_selfie(page, session, event, "runner@example.com")
    photo = create_photo(session, event=event, data=image_bytes(), filename="finish.jpg",
                         status="indexed")  # fmt: skip
    create_match(session, photo=photo, attendee_id=attendee.id)  # its face is the selfie's
    page.reload()
    tile = page.locator(f"li[data-photo-id='{photo.id}']")

    for how in ("undo", "restore"):
        tile.locator("button").click()
        page.locator("#viewer-not-me").click()
        expect(tile).to_have_count(0)
        if how == "undo":
            page.get_by_role("button", name="Undo").click()
        else:
            expect(page.locator("#undo-bar")).to_be_hidden(timeout=15_000)
            page.locator("#hidden-photos summary").click()
            row = page.locator(f"#hidden-list li[data-photo-id='{photo.id}']")
            expect(row).to_contain_text("finish.jpg")
            row.get_by_role("button", name="Restore").click()
        expect(tile).to_have_count(1, timeout=60_000)  # the worker matched it to them again
    expect(page.locator("#hidden-empty")).to_be_visible()


def test_a_changed_policy_is_consented_to_again_before_the_gallery(
    phone: Any, session: Session
) -> None:
    from core.models import Attendee, AuditEntry
    from tests.helpers import create_event

    event = create_event(session, owner=create_user(session))
    page = phone
    attendee = _registered_with_a_selfie(page, session, event, "runner@example.com")
    page.reload()
    expect(page.locator("#gallery")).to_be_visible()
    row = session.get(Attendee, attendee.id)
    assert row is not None
    row.consent_policy_version = "2020-01-01"  # consented to a policy since replaced
    session.add(row)
    session.commit()
    page.reload()
    expect(page.locator("#reconsent")).to_be_visible()
    expect(page.locator("#gallery")).to_be_hidden()
    shot(page, "attendee-reconsent")
    page.locator("#reconsent-form").get_by_label("I consent").check()
    page.get_by_role("button", name="Agree and continue").click()
    expect(page.locator("#gallery")).to_be_visible()
    session.expire_all()
    consents = session.exec(select(AuditEntry).where(AuditEntry.action == "consent.given")).all()
    assert len(consents) == 2


def test_my_events_lists_every_event_joined_and_opens_each(phone: Any, session: Session) -> None:
    from tests.helpers import create_event, create_match, create_photo

    owner = create_user(session)
    first = create_event(session, owner=owner, name="Spring run")
    second = create_event(session, owner=owner, name="Autumn run")
    page = phone
    _registered_with_a_selfie(page, session, first, "runner@example.com")
    other = _registered_with_a_selfie(page, session, second, "runner@example.com")
    create_match(session, photo=create_photo(session, event=second, status="indexed"),
                 attendee_id=other.id)  # fmt: skip
    page.goto("/me")
    expect(page.locator("#my-events li")).to_have_count(2)
    expect(page.locator(f"#my-events li[data-code='{second.code}']")).to_contain_text("1 photo")
    shot(page, "attendee-my-events")
    page.get_by_role("button", name="Autumn run").click()
    expect(page.locator("h1")).to_have_text("Autumn run")
    expect(page.locator("#photo-count")).to_have_text("1")
