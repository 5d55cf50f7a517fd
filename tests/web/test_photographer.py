"""A photographer at a laptop: an event, its QR code, a bulk upload, indexing, matching."""

from __future__ import annotations

import base64
import csv
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from core.models import Event, User
from tests.helpers import FACES, PASSWORD, create_user
from tests.web.conftest import ALL_IMAGES_LOADED, Api, shot, wait_until

pytestmark = [pytest.mark.faces, pytest.mark.e2e, pytest.mark.browser]

UPLOADS = 20
REFUSED_BY_THE_FAKE_PROXY = 2

# Records, as the page changes, how many uploads run at once and the whole upload's progress.
WATCH_UPLOADS = """() => {
  window.seen = { parallel: 0, progress: [] };
  new MutationObserver(() => {
    const running = document.querySelectorAll('#upload-list .uploading').length;
    window.seen.parallel = Math.max(window.seen.parallel, running);
    const total = document.getElementById('upload-total');
    window.seen.progress.push(total.value / total.max);
  }).observe(document.getElementById('upload-list'),
             { subtree: true, attributes: true, childList: true });
}"""


DROP = """([name, b64]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const transfer = new DataTransfer();
  transfer.items.add(new File([bytes], name, { type: "image/jpeg" }));
  return transfer;
}"""


def _identity_photos() -> list[Path]:
    with (FACES / "identities.csv").open() as f:
        return [FACES / row["path"] for row in csv.DictReader(f)][:UPLOADS]


def _wait_rematched(session: Session, event_id: uuid.UUID, requested: Any) -> None:
    """Until a rematch at least as recent as `requested` has been done."""
    deadline = time.monotonic() + 60
    while True:
        session.expire_all()
        event = session.get(Event, event_id)
        assert event is not None and requested is not None
        if event.rematched_at is not None and event.rematched_at >= requested:
            return
        assert time.monotonic() < deadline, "the rematch was not done within 60 s"
        time.sleep(0.3)


def _sign_in(page: Any, email: str) -> None:
    _sign_in_with(page, email, PASSWORD)


def _sign_in_with(page: Any, email: str, password: str) -> None:
    page.goto("/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_a_photographer_creates_an_event_and_bulk_uploads_photos(
    api: Api, laptop: Any, session: Session, faces_dir: Path
) -> None:
    create_user(session, email="photographer@example.com")
    page = laptop
    page.goto("/studio")
    expect(page).to_have_url("/login?next=%2Fstudio")
    _sign_in(page, "photographer@example.com")
    expect(page).to_have_url("/studio")
    expect(page.get_by_text("No events yet")).to_be_visible()
    shot(page, "photographer-1-studio")

    page.get_by_label("Event name").fill("Summer gala")
    page.get_by_role("button", name="Create event").click()
    expect(page.locator("#event-name")).to_have_text("Summer gala")
    code = page.locator("#event-code").inner_text()
    assert len(code) == 7
    wait_until(page, "() => document.getElementById('qr').naturalWidth > 0")
    with page.expect_download() as download:
        page.locator("#qr-png").click()
    assert download.value.suggested_filename == f"facematch-{code}.png"
    assert Path(download.value.path()).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    # A proxy that is busy for the first requests: those files must be retried, not lost.
    refused: list[str] = []

    def busy_then_through(route: Any) -> None:
        if len(refused) < REFUSED_BY_THE_FAKE_PROXY:
            refused.append(route.request.url)
            route.fulfill(status=503, headers={"Retry-After": "1"}, json={"error": "busy"})
        else:
            route.continue_()

    page.route("**/api/events/*/photos", busy_then_through)
    page.evaluate(WATCH_UPLOADS)
    *picked, dropped = _identity_photos()
    # One file dragged onto the drop zone, then the rest picked with a broken one among them.
    transfer = page.evaluate_handle(
        DROP, [dropped.name, base64.b64encode(dropped.read_bytes()).decode()]
    )
    page.dispatch_event("#dropzone", "drop", {"dataTransfer": transfer})
    broken = {"name": "notes.jpg", "mimeType": "image/jpeg", "buffer": b"not a photo at all"}
    files = [{"name": p.name, "mimeType": "image/jpeg", "buffer": p.read_bytes()} for p in picked]
    page.locator("#photo-files").set_input_files([*files, broken])
    expect(page.locator("#upload-counts")).to_have_text(
        f"{UPLOADS} of {UPLOADS + 1} uploaded, 1 failed", timeout=60_000
    )
    assert len(refused) == REFUSED_BY_THE_FAKE_PROXY
    expect(page.locator("#upload-list .done")).to_have_count(UPLOADS)
    expect(page.locator("#upload-list .done", has_text=dropped.name)).to_have_count(1)
    failed = page.locator("#upload-list .failed")
    expect(failed).to_have_count(1)
    expect(failed).to_contain_text("notes.jpg")
    expect(failed).to_contain_text("not an image")
    seen = page.evaluate("window.seen")
    assert seen["parallel"] >= 2, seen
    assert any(0 < p < 1 for p in seen["progress"]), "the whole upload's progress was never shown"
    assert page.locator("#upload-total").evaluate("p => p.value === p.max")
    shot(page, "photographer-2-uploaded")

    # The same file again, under another name: skipped, nothing new stored or indexed.
    page.locator("#photo-files").set_input_files([{**files[0], "name": "again.jpg"}])
    skipped = page.locator("#upload-list .skipped")
    expect(skipped).to_have_count(1)
    expect(skipped).to_contain_text("again.jpg")
    expect(skipped.locator(".state")).to_have_text("skipped: already in this event")
    expect(page.locator("#upload-counts")).to_contain_text("1 skipped as duplicates")

    # Live indexing progress, and face boxes on the photos.
    expect(page.locator("[data-stat=photos_indexed]")).to_have_text(str(UPLOADS), timeout=180_000)
    expect(page.locator("[data-stat=photos_waiting]")).to_have_text("0")
    faces = int(page.locator("[data-stat=faces]").inner_text())
    assert faces >= UPLOADS
    expect(page.locator("#photo-grid li")).to_have_count(UPLOADS)
    expect(page.locator("#photo-grid .face-box")).to_have_count(faces)
    for tile in page.locator("#photo-grid li").all():
        tile.scroll_into_view_if_needed()  # thumbnails load as they come into view
    wait_until(page, ALL_IMAGES_LOADED)
    shot(page, "photographer-3-indexed")

    # A stricter tolerance is saved and rematches the event.
    page.locator("#tolerance").fill("0.5")
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#toast")).to_contain_text("Tolerance saved")
    event_id = page.locator("#event").get_attribute("data-event-id")
    headers = api.login("photographer@example.com")
    assert api.http.get(f"/api/events/{event_id}", headers=headers).json()["tolerance"] == 0.5
    with page.expect_response(lambda r: r.url.endswith("/rematch")) as response:
        page.get_by_role("button", name="Rematch now").click()
    assert response.value.status == 202
    requested = session.get(Event, uuid.UUID(event_id)).rematch_requested_at  # type: ignore[union-attr]
    expect(page.locator("#rematch-status")).to_have_text("Matches are up to date.", timeout=60_000)
    _wait_rematched(session, uuid.UUID(event_id), requested)
    shot(page, "photographer-4-matching")


def test_an_admin_sees_users_events_queues_and_workers(
    api: Api, laptop: Any, session: Session
) -> None:
    create_user(session, email="admin@example.com", role="admin")
    photographer = create_user(session, email="photographer@example.com")
    api.create_event(api.login(photographer.email), name="Winter ball")
    page = laptop
    _sign_in(page, "admin@example.com")
    expect(page).to_have_url("/admin")
    expect(page.locator("#users")).to_contain_text("photographer@example.com")
    expect(page.locator("#admin-events")).to_contain_text("Winter ball")
    expect(page.locator("[data-stat=workers]")).to_have_text("1", timeout=30_000)
    expect(page.locator("#workers tr")).to_have_count(1)
    expect(page.locator("#workers")).to_contain_text("photos")

    page.get_by_label("Email").fill("second@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create user").click()
    expect(page.locator("#users")).to_contain_text("second@example.com")
    shot(page, "admin-1-overview")

    second = page.locator("#users tr[data-email='second@example.com']")
    second.get_by_role("button", name="Deactivate").click()
    expect(second).to_contain_text("deactivated")
    expect(page.locator("#toast")).to_contain_text("signed out everywhere")
    session.expire_all()
    assert (
        session.exec(select(User).where(User.email == "second@example.com")).one().is_active
        is False
    )
    second.get_by_role("button", name="Reactivate").click()
    expect(second).to_contain_text("active")
    page.once("dialog", lambda dialog: dialog.accept())
    second.get_by_role("button", name="Delete").click()
    expect(page.locator("#users")).not_to_contain_text("second@example.com")
    session.expire_all()
    assert session.exec(select(User).where(User.email == "second@example.com")).all() == []

    expect(page.locator("[data-throughput=photos_waiting]")).to_have_text("0")
    page.locator("#audit-action").select_option("account.deleted")
    page.locator("#audit-filters").get_by_role("button", name="Filter").click()
    expect(page.locator("#audit tr")).to_have_count(1)
    expect(page.locator("#audit")).to_contain_text("account.deleted")
    expect(page.locator("#audit-count")).to_have_text("1")

    # A reset link for the photographer, opened in a fresh browser: a new password, once.
    row = page.locator("#users tr[data-email='photographer@example.com']")
    row.get_by_role("button", name="Reset link").click()
    url = row.get_by_label("reset link").input_value()
    assert "/reset-password#" in url
    fresh = page.context.browser.new_context(base_url=page.url.split("/admin")[0]).new_page()
    fresh.goto(url)
    fresh.get_by_label("New password").fill("a brand new password")
    fresh.get_by_label("Again").fill("a brand new password")
    fresh.get_by_role("button", name="Save").click()
    expect(fresh.locator("#reset-done")).to_be_visible()
    _sign_in_with(fresh, "photographer@example.com", "a brand new password")
    expect(fresh).to_have_url("/studio")
    fresh.context.close()


def test_a_photographer_who_opens_the_admin_page_is_told_it_is_not_allowed_and_stays_signed_in(
    laptop: Any, session: Session
) -> None:
    create_user(session, email="photographer@example.com")
    page = laptop
    _sign_in(page, "photographer@example.com")
    expect(page).to_have_url("/studio")
    page.goto("/admin")
    expect(page.locator("#not-allowed")).to_contain_text("Not allowed")
    expect(page.locator("#not-allowed")).to_contain_text("photographer@example.com (photographer)")
    page.get_by_role("link", name="Go to your page").click()
    expect(page).to_have_url("/studio")
    expect(page.locator("#create-event")).to_be_visible()


def test_an_attendee_cannot_use_the_studio(api: Api, laptop: Any, session: Session) -> None:
    create_user(session, email="attendee@example.com", role="attendee")
    _sign_in(laptop, "attendee@example.com")
    expect(laptop.get_by_role("alert")).to_contain_text("Attendees sign in on their event's page")


def test_the_grid_shows_every_photo_of_a_big_event_as_it_scrolls_and_new_ones_on_top(
    laptop: Any, session: Session
) -> None:
    """Past the first page: every photo, by cursor pages as the grid scrolls, each once."""
    from tests.helpers import create_event, create_photo

    owner = create_user(session, email="photographer@example.com")
    event = create_event(session, owner=owner)
    for n in range(130):
        create_photo(session, event=event, filename=f"{n:03}.jpg", status="indexed", face_count=0,
                     width=600, height=400)  # fmt: skip
    page = laptop
    _sign_in(page, "photographer@example.com")
    expect(page).to_have_url("/studio")
    page.goto(f"/studio/events/{event.id}")
    tiles = page.locator("#photo-grid li")
    expect(tiles.first).to_be_visible()
    assert tiles.count() < 130, "the first page is a page, not the whole event"
    while tiles.count() < 130:
        count = tiles.count()
        tiles.last.scroll_into_view_if_needed()
        wait_until(page, f"() => document.querySelectorAll('#photo-grid li').length > {count}")
    expect(page.locator("#more-photos")).to_be_hidden()
    names = tiles.locator(".filename").all_inner_texts()
    assert names == [f"{n:03}.jpg" for n in range(129, -1, -1)]

    create_photo(session, event=event, filename="new.jpg", status="pending", width=600, height=400)
    expect(tiles).to_have_count(131, timeout=30_000)
    expect(tiles.first.locator(".filename")).to_have_text("new.jpg")
    expect(tiles.last.locator(".filename")).to_have_text("000.jpg")

    # A photo deleted from the grid goes from it, and from the event.
    page.once("dialog", lambda dialog: dialog.accept())
    tiles.first.get_by_role("button", name="Delete new.jpg").click()
    expect(page.locator("#toast")).to_have_text("new.jpg deleted.")
    expect(tiles).to_have_count(130)
    expect(tiles.first.locator(".filename")).to_have_text("129.jpg")
    session.expire_all()
    from core.models import Photo

    assert session.exec(select(Photo).where(Photo.filename == "new.jpg")).first() is None


def test_a_photographer_closes_and_reopens_an_event_from_the_studio(
    laptop: Any, session: Session
) -> None:
    """Closed: no drop zone, a note saying why, and the API refuses uploads; reopened: back."""
    from tests.helpers import create_event

    owner = create_user(session, email="photographer@example.com")
    event = create_event(session, owner=owner)
    page = laptop
    _sign_in(page, "photographer@example.com")
    expect(page).to_have_url("/studio")
    page.goto(f"/studio/events/{event.id}")
    expect(page.locator("#dropzone")).to_be_visible()

    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Close event").click()
    expect(page.locator("#event-status")).to_have_text("closed")
    expect(page.locator("#dropzone")).to_be_hidden()
    expect(page.locator("#closed-note")).to_contain_text("takes no new photos")
    session.expire_all()
    assert session.get(Event, event.id).status == "closed"  # type: ignore[union-attr]

    page.get_by_role("button", name="Reopen event").click()
    expect(page.locator("#event-status")).to_have_text("open")
    expect(page.locator("#dropzone")).to_be_visible()
    expect(page.locator("#closed-note")).to_be_hidden()
    session.expire_all()
    assert session.get(Event, event.id).status == "open"  # type: ignore[union-attr]


def test_a_photographer_sets_retention_and_deletes_an_event_from_the_studio(
    laptop: Any, session: Session
) -> None:
    """Retention days saved and shown once closed; the deletion asks for the event's code,
    then the page counts down and returns to the list, where the event is gone."""
    from tests.helpers import create_event, create_photo

    owner = create_user(session, email="photographer@example.com")
    event = create_event(session, owner=owner, name="To delete")
    event_id, code = event.id, event.code  # the row goes
    for _ in range(3):
        create_photo(session, event=event, data=b"\xff\xd8\xff\xd9", status="indexed")
    page = laptop
    _sign_in(page, "photographer@example.com")
    expect(page).to_have_url("/studio")
    page.goto(f"/studio/events/{event.id}")
    page.locator("#retention-days").fill("14")
    page.get_by_role("button", name="Set retention").click()
    expect(page.locator("#toast")).to_contain_text("14 days")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Close event").click()
    expect(page.locator("#deletes-at")).to_contain_text("will be deleted on")
    session.expire_all()
    assert session.get(Event, event.id).retention_days == 14  # type: ignore[union-attr]

    page.locator("#delete-confirm").fill("WRONG")
    page.get_by_role("button", name="Delete event").click()
    expect(page.locator("#toast")).to_contain_text("Type the event's code")
    session.expire_all()
    assert session.get(Event, event.id).status == "closed"  # type: ignore[union-attr]
    page.locator("#delete-confirm").fill(code.lower())
    page.get_by_role("button", name="Delete event").click()
    expect(page).to_have_url("/studio?deleted=1", timeout=60_000)
    expect(page.locator("#toast")).to_contain_text("were deleted")
    expect(page.get_by_text("To delete")).to_have_count(0)
    session.expire_all()
    assert session.get(Event, event_id) is None
    shot(page, "studio-event-deleted")


def test_the_studio_fits_a_phone(phone: Any, session: Session) -> None:
    """The issue's phone: a one-row top bar, the QR code's buttons under its centre, and
    two tiles a row of one size each, portrait or landscape."""
    from tests.helpers import create_event, create_photo

    owner = create_user(session, email="photographer@example.com")
    event = create_event(session, owner=owner)
    for n in range(11):  # portrait and landscape, as a phone's uploads are
        size = (3000, 4000) if n % 2 else (6000, 4000)
        create_photo(session, event=event, data=b"\xff\xd8\xff\xd9", status="indexed",
                     width=size[0], height=size[1], face_count=0)  # fmt: skip
    page = phone
    _sign_in(page, "photographer@example.com")
    expect(page).to_have_url("/studio")
    page.goto(f"/studio/events/{event.id}")
    expect(page.locator("#photo-grid li")).to_have_count(11)
    bar = page.locator(".topbar").bounding_box()
    assert bar is not None and bar["height"] < 60, f"the top bar wraps: {bar}"
    qr, buttons = page.locator("#qr").bounding_box(), page.locator(".qr figcaption").bounding_box()
    assert qr is not None and buttons is not None
    assert abs((qr["x"] + qr["width"] / 2) - (buttons["x"] + buttons["width"] / 2)) < 4
    frames = [page.locator(".frame").nth(n).bounding_box() for n in range(11)]
    assert len({round(f["width"]) for f in frames if f}) == 1, "tiles of one size"
    assert len({round(f["y"]) for f in frames if f}) == 6, "two a row"
    grid, tile = page.locator("#photo-grid").bounding_box(), frames[0]
    assert grid is not None and tile is not None
    assert grid["height"] < 6 * (tile["width"] + 60), f"11 photos make a {grid} grid"
    shot(page, "studio-phone")


def test_the_photographer_sees_who_is_in_a_photo_and_downloads_the_event(
    laptop: Any, session: Session, client: Any
) -> None:
    """ "Who?" lists the matched attendees by name; the zip link downloads every photo."""
    import io
    import zipfile

    from tests.helpers import create_event, create_match, create_photo, register_attendee

    owner = create_user(session, email="photographer@example.com")
    event = create_event(session, owner=owner)
    photos = [create_photo(session, event=event, data=f"jpeg{n}".encode(), filename=f"{n}.jpg",
                           status="indexed", face_count=1) for n in range(2)]  # fmt: skip
    attendee = register_attendee(client, event.code)
    create_match(session, photo=photos[0], attendee_id=attendee["attendee_id"])
    page = laptop
    _sign_in(page, "photographer@example.com")
    expect(page).to_have_url("/studio")
    page.goto(f"/studio/events/{event.id}")
    page.get_by_role("button", name="Who is in 0.jpg").click()
    expect(page.locator(f"li[data-photo-id='{photos[0].id}'] .people")).to_contain_text("Attendee")
    page.get_by_role("button", name="Who is in 1.jpg").click()
    expect(page.locator(f"li[data-photo-id='{photos[1].id}'] .people")).to_contain_text("Nobody")

    with page.expect_download() as download:
        page.get_by_role("button", name="Download all (zip)").click()
    archive = zipfile.ZipFile(io.BytesIO(Path(download.value.path()).read_bytes()))
    assert sorted(archive.namelist()) == ["0.jpg", "1.jpg"]
    assert download.value.suggested_filename == f"{event.code}.zip"


def test_the_photographer_calibrates_a_tolerance_before_changing_it(
    laptop: Any, session: Session
) -> None:
    """The histogram of distances and each attendee's photos; a preview of 0.50 says what
    it would take away and from whom (a worker computes it), and nothing changes."""
    from core.models import Match
    from tests.helpers import create_matched_event

    event = create_matched_event(session, {"Ada": [0.35, 0.45, 0.57], "Bo": [0.53, 0.67]})
    owner = session.get(User, event.owner_id)
    assert owner is not None
    page = laptop
    _sign_in(page, owner.email)
    expect(page).to_have_url("/studio")
    page.goto(f"/studio/events/{event.id}")
    page.get_by_text("Calibrate: distances, attendees").click()
    expect(page.locator("#calibration-attendees tbody tr")).to_have_count(2)
    expect(page.locator("#calibration-attendees tbody tr").first).to_contain_text("Ada3")
    expect(page.locator("#histogram .bin")).to_have_count(25)
    heights = page.evaluate(
        "() => [...document.querySelectorAll('#histogram .bin .matched')]"
        ".map(s => parseFloat(s.style.height) > 0)"
    )
    assert sum(heights) == 4  # one matched face in each of four bins
    page.get_by_label("Try a tolerance").fill("0.5")
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#preview-status")).to_contain_text(
        "At 0.50: 2 matches instead of 4 (0 gained, -2 lost), 2 attendees affected", timeout=30_000
    )
    expect(page.locator("#preview-attendees tbody tr")).to_have_count(2)
    shot(page, "studio-calibration")
    session.expire_all()
    assert len(session.exec(select(Match).where(Match.event_id == event.id)).all()) == 4


@pytest.mark.parametrize(
    "next_",
    ["/\\evil.example", "/%09/evil.example", "/\t/evil.example", "//evil.example",
     "https://evil.example/studio", "javascript:alert(1)", "\\\\evil.example"],
)  # fmt: skip
def test_signing_in_never_sends_a_photographer_to_another_site(
    api: Api, laptop: Any, session: Session, next_: str
) -> None:
    create_user(session, email="photographer@example.com")
    page = laptop
    page.goto(f"/login?{urlencode({'next': next_})}")
    page.get_by_label("Email").fill("photographer@example.com")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: urlsplit(url).path != "/login")
    assert urlsplit(page.url).netloc == urlsplit(str(api.http.base_url)).netloc, page.url


def test_a_same_site_next_is_followed_after_signing_in(
    api: Api, laptop: Any, session: Session
) -> None:
    create_user(session, email="photographer@example.com")
    laptop.goto("/login?next=%2Fstudio%3Fview%3Dall")
    laptop.get_by_label("Email").fill("photographer@example.com")
    laptop.get_by_label("Password").fill(PASSWORD)
    laptop.get_by_role("button", name="Sign in").click()
    expect(laptop).to_have_url("/studio?view=all")


def test_a_photographer_brands_an_event_and_sets_its_download_rules(
    laptop: Any, session: Session, tmp_path: Path
) -> None:
    """Logo, accent, welcome text, watermark and rules from the studio; the event's page
    then wears the brand."""
    from tests.helpers import create_event, logo_bytes

    owner = create_user(session, email="photographer@example.com")
    event = create_event(session, owner=owner, name="Harbour Regatta")
    logo = tmp_path / "logo.png"
    logo.write_bytes(logo_bytes())
    page = laptop
    _sign_in(page, "photographer@example.com")
    expect(page).to_have_url("/studio")
    page.goto(f"/studio/events/{event.id}")
    page.locator("#brand summary").click()
    page.locator("#brand-logo-file").set_input_files(str(logo))
    page.get_by_label("Accent colour").fill("#c2185b")
    page.get_by_label("Welcome text for attendees").fill("Fair winds!")
    page.get_by_label("Watermark the previews").check()
    page.get_by_label("Watermark text").fill("Studio Mer")
    page.get_by_label("Attendees may download the original files").uncheck()
    page.get_by_label("Attendees may download all their photos as one zip").uncheck()
    page.locator("#brand-form").get_by_role("button", name="Save").click()
    expect(page.locator("#brand-summary")).to_have_text("watermarked · previews only · no zips")
    wait_until(page, "() => document.getElementById('brand-logo-preview').naturalWidth > 0")
    session.expire_all()
    saved = session.get(Event, event.id)
    assert saved is not None
    assert (saved.accent_color, saved.welcome_text, saved.watermark_text) == (
        "#c2185b", "Fair winds!", "Studio Mer")  # fmt: skip
    assert (saved.watermark, saved.originals_downloadable, saved.zips_allowed) == (
        True, False, False)  # fmt: skip
    assert saved.logo_key is not None

    page.goto(f"/e/{event.code}")
    wait_until(page, "() => document.getElementById('brand-logo')?.naturalWidth > 0")
    expect(page.locator("#welcome")).to_have_text("Fair winds!")
    expect(page.locator("#download-all")).to_have_count(0)
    shot(page, "branded-event-page")
