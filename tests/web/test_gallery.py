"""A browse-all gallery on a phone: the link, a wrong password, the right one, the photos."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import Session

from tests.helpers import create_user, image_bytes
from tests.web.conftest import Api, shot, wait_until

pytestmark = [pytest.mark.e2e, pytest.mark.browser]


def test_a_visitor_opens_the_gallery_with_its_password(
    phone: Any, api: Api, session: Session
) -> None:
    create_user(session, email="studio@example.com")
    headers = api.login("studio@example.com")
    event = api.create_event(headers, name="Harbour Regatta")
    photos = {
        f"IMG_{n}.JPG": image_bytes(size=(900, 600), color=(40 * n, 90, 160)) for n in range(3)
    }
    api.upload(headers, event, photos)
    api.wait_indexed(headers, event, 3)
    gallery = api.open_gallery(headers, event, "harbour-regatta")

    phone.goto(gallery)
    expect(phone.get_by_role("heading", name="Harbour Regatta")).to_be_visible()
    phone.get_by_label("Password").fill("wrong password")
    phone.get_by_role("button", name="Show the photos").click()
    expect(phone.locator("#gallery-error")).to_contain_text("wrong password")
    phone.get_by_label("Password").fill("harbour-regatta")
    phone.get_by_role("button", name="Show the photos").click()
    expect(phone.locator("#gallery-count")).to_have_text("3")
    loaded = (
        "() => [...document.querySelectorAll('#gallery-grid img')].every(i => i.naturalWidth > 0)"
    )
    wait_until(phone, loaded)
    phone.locator("#gallery-grid .tile-open").first.click()
    expect(phone.locator("#gallery-viewer")).to_be_visible()
    wait_until(phone, "() => document.getElementById('gallery-viewer-img').naturalWidth > 0")
    shot(phone, "gallery")

    phone.reload()  # the access lives in this tab: no password again
    expect(phone.locator("#gallery-count")).to_have_text("3")
