"""A runner on a phone finds their race photos by bib: no selfie, no face.

The photographer's race photo (real faces of ../shared on runners with bibs drawn onto
their shirts) is indexed by the live worker, which reads its bibs."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import Session

from loadtest import bib_data
from tests.helpers import create_user, mailed
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
    api.upload(headers, event, {"finish.jpg": race.data})
    api.wait_indexed(headers, event, 1)
    return event, headers


def test_a_runner_gets_their_photos_by_a_link_mailed_to_their_bibs_address(
    phone: Any, api: Api, session: Session, faces_dir: Any
) -> None:
    event, _ = _race(api, session, faces_dir, "runner")
    phone.goto(event["join_url"])
    card = phone.locator("#bib-search")
    expect(card).to_contain_text("uses no biometrics")
    card.get_by_label("Bib number").fill("1207")
    card.get_by_role("button", name="Mail me the link").click()
    expect(phone.locator("#bib-sent")).to_contain_text("a link is on its way")

    link = next(u for u in mailed("ada@example.com")[0].links if "/bib#" in u)
    phone.goto(link)
    expect(phone.locator("#bib-number")).to_have_text("1207")
    expect(phone.locator("#bib-event")).to_have_text("Harbour 10K")
    expect(phone.locator("#no-biometrics")).to_contain_text("no biometrics")
    expect(phone.locator("#bib-count")).to_have_text("1")
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
    phone.goto(f"{event['join_url']}/bib/87")
    expect(phone.locator("#bib-count")).to_have_text("0")
    expect(phone.locator("#bib-empty")).to_be_visible()
