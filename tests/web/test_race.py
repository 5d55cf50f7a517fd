"""A runner on a phone finds their race photos by bib: no selfie, no face.

The photographer's race photo (real faces of ../shared on runners with bibs drawn onto
their shirts) is indexed by the live worker, which reads its bibs."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import Session

from loadtest import bib_data
from tests.helpers import create_user, logo_bytes, mailed
from tests.web.conftest import Api, shot, wait_until
from workers import faces

pytestmark = [pytest.mark.faces, pytest.mark.e2e, pytest.mark.browser]
HEADS = [
    "ageitgey_face_recognition/examples/obama.jpg",
    "ageitgey_face_recognition/examples/biden.jpg",
]


def _race(api: Api, session: Session, faces_dir: Any, bib_search: str) -> tuple[dict, dict]:  # type: ignore[type-arg]
    from PIL import Image

    sources = []
    for path in HEADS:
        photo = faces.decode((faces_dir / path).read_bytes())
        (_, box), *_ = sorted(faces.detect_tiled(photo.rgb), key=lambda f: -f[0])
        sources.append((path, path, Image.fromarray(photo.rgb), box))
    runners = [bib_data.Runner("1207", 50, "clean"), bib_data.Runner("86", 45, "clean")]
    race = bib_data.race_photo(list(zip(sources, runners, strict=True)), seed=11)

    create_user(session, email=f"race-{bib_search}@example.com")
    headers = api.login(f"race-{bib_search}@example.com")
    event = api.create_event(headers, name="Harbour 10K")
    changed = api.http.patch(f"/api/events/{event['id']}", headers=headers,
                             json={"bibs_enabled": True, "bib_search": bib_search})  # fmt: skip
    assert changed.status_code == 200, changed.text
    start_list = b"bib,name,email\n1207,Ada Runner,ada@example.com\n86,Sam,\n"
    listed = api.http.put(f"/api/events/{event['id']}/start-list", headers=headers,
                          files={"file": ("start.csv", start_list)})  # fmt: skip
    assert listed.status_code == 200, listed.text
    branded = api.http.patch(f"/api/events/{event['id']}", headers=headers,
                             json={"accent_color": ACCENT, "welcome_text": WELCOME})  # fmt: skip
    assert branded.status_code == 200, branded.text
    logo = api.http.put(f"/api/events/{event['id']}/logo", headers=headers,
                        files={"file": ("logo.png", logo_bytes())})  # fmt: skip
    assert logo.status_code == 200, logo.text
    api.upload(headers, event, {"finish.jpg": race.data})
    api.wait_indexed(headers, event, 1)
    return event, headers


ACCENT = "#c2185b"
WELCOME = "Welcome, runners!\nPhotos by Studio Mer."


def expect_brand(page: Any) -> None:
    """The photographer's logo, welcome text and accent on the page."""
    wait_until(page, "() => document.getElementById('brand-logo')?.naturalWidth > 0")
    expect(page.locator("#brand-logo")).to_have_attribute("alt", "Harbour 10K logo")
    expect(page.locator("#welcome")).to_have_text(WELCOME)
    accent = "() => getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()"
    wait_until(page, f"() => ({accent})() === '{ACCENT}'")


def test_a_runner_gets_their_photos_by_a_link_mailed_to_their_bibs_address(
    phone: Any, api: Api, session: Session, faces_dir: Any
) -> None:
    event, _ = _race(api, session, faces_dir, "runner")
    phone.goto(event["join_url"])
    expect_brand(phone)
    card = phone.locator("#bib-search")
    expect(card).to_contain_text("uses no biometrics")
    card.get_by_label("Bib number").fill("1207")
    card.get_by_role("button", name="Mail me the link").click()
    expect(phone.locator("#bib-sent")).to_contain_text("a link is on its way")

    [mail] = mailed("ada@example.com")
    assert f"/api/e/{event['code']}/logo?v=1" in mail.html, "the photographer's logo"
    assert f"background:{ACCENT}" in mail.html, "the button in the event's accent"
    link = next(u for u in mail.links if "/bib#" in u)
    phone.goto(link)
    expect(phone.locator("#bib-number")).to_have_text("1207")
    expect(phone.locator("#bib-event")).to_have_text("Harbour 10K")
    expect(phone.locator("#no-biometrics")).to_contain_text("no biometrics")
    expect(phone.locator("#bib-count")).to_have_text("1")
    expect_brand(phone)
    loaded = "() => [...document.querySelectorAll('#bib-grid img')].every(i => i.naturalWidth > 0)"
    wait_until(phone, loaded)
    shot(phone, "race-bib-pass")
    phone.locator("#bib-grid .tile-open").first.click()
    expect(phone.locator("#bib-viewer")).to_be_visible()


def test_where_search_is_open_the_event_page_shows_a_bibs_photos(
    phone: Any, api: Api, session: Session, faces_dir: Any
) -> None:
    event, _ = _race(api, session, faces_dir, "open")
    phone.goto(event["join_url"])
    card = phone.locator("#bib-search")
    expect(card).to_contain_text("Anyone with this event's code")
    card.get_by_label("Bib number").fill("86")
    card.get_by_role("button", name="Show the photos").click()
    expect(phone).to_have_url(f"{event['join_url']}/bib/86")
    expect(phone.locator("#bib-count")).to_have_text("1")
    expect_brand(phone)
    phone.goto(f"{event['join_url']}/bib/87")
    expect(phone.locator("#bib-count")).to_have_text("0")
    expect(phone.locator("#bib-empty")).to_be_visible()


def test_the_owner_sets_up_a_race_and_a_contributor_sees_only_their_part(
    laptop: Any, api: Api, session: Session, tmp_path: Any
) -> None:
    from tests.web.test_photographer import _sign_in

    create_user(session, email="organiser@example.com")
    create_user(session, email="station2@example.com")
    event = api.create_event(api.login("organiser@example.com"), name="Harbour 10K")
    page = laptop
    _sign_in(page, "organiser@example.com")
    expect(page).to_have_url("/studio")
    page.goto(f"/studio/events/{event['id']}")

    race = page.locator("#race")
    race.locator("summary").click()
    race.get_by_label("Read bib numbers").check()
    race.get_by_label("Bibs from").fill("1")
    race.get_by_label("to", exact=True).fill("5000")
    race.get_by_label("Who sees a bib's photos").select_option("open")
    race.get_by_role("button", name="Save").click()
    expect(page.locator("#race-summary")).to_have_text("bib numbers read · open search")

    bad = tmp_path / "bad.csv"
    bad.write_text("bib,email\n12,a@example.com\n9999,\n12,\n")
    race.get_by_label("Start list CSV").set_input_files(str(bad))
    race.get_by_role("button", name="Import").click()
    expect(page.locator("#start-list-status")).to_contain_text("2 bad lines")
    expect(page.locator("#start-list-errors li")).to_have_text(
        ["line 3, bib: bib out of range", "line 4, bib: duplicate bib"]
    )
    good = tmp_path / "good.csv"
    good.write_text("bib,name,email\n12,Ada,a@example.com\n13,Sam,\n")
    race.get_by_label("Start list CSV").set_input_files(str(good))
    race.get_by_role("button", name="Import").click()
    expect(page.locator("#start-list-status")).to_have_text(
        "2 runners imported, 1 with an address."
    )

    people = page.locator("#photographers")
    people.locator("summary").click()
    people.get_by_label("Email").fill("station2@example.com")
    people.get_by_role("button", name="Invite").click()
    expect(page.locator("#photographer-table tbody tr")).to_have_count(2)
    expect(page.locator("#photographer-table")).to_contain_text("station2@example.com")
    clock = people.get_by_label("Clock correction of station2@example.com in minutes")
    clock.fill("-30")
    people.locator("tr", has_text="station2@example.com").get_by_role("button", name="Save").click()
    expect(page.locator("#toast")).to_contain_text("0 photos moved")
    shot(page, "race-studio-owner")

    page.evaluate("() => localStorage.clear()")  # signed out
    _sign_in(page, "station2@example.com")
    expect(page.get_by_text("Harbour 10K")).to_be_visible()
    page.goto(f"/studio/events/{event['id']}")
    expect(page.locator("#event-name")).to_have_text("Harbour 10K")
    expect(page.locator("#dropzone")).to_be_visible()
    for owner_only in ("#race", "#photographers", "#lifecycle", "#joining", "#tolerance-form"):
        expect(page.locator(owner_only)).to_be_hidden()
    shot(page, "race-studio-contributor")
