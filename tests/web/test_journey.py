"""The attendee's whole journey on phones, with real mail (the test SMTP server) and Chromium:
join by email, open the link on another phone, see photos arrive, get the digest,
unsubscribe, add a second selfie, undo "not me", come back after the event closed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from api.reconciler.service import reconcile
from core import queue
from core.db import session_scope
from core.models import Attendee
from tests.helpers import EVENT_PHOTOS, SELFIES, create_user, face_photo, mailed, mailed_link
from tests.web.conftest import PHONE, Api, shot
from tests.web.test_attendee import _ask_to_join, _photo_ids, _pick_selfie

pytestmark = [pytest.mark.faces, pytest.mark.e2e, pytest.mark.browser]

EMAIL = "barack@example.com"


def _phone(browser: Any, live_api: str) -> Any:
    """A fresh browser context: another phone, with nothing stored."""
    context = browser.new_context(base_url=live_api, **PHONE)
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.errors = errors
    return page


def _digests_now(monkeypatch: pytest.MonkeyPatch, live_api: str) -> None:
    """The reconciler's pass composes due digests: here, as the stack's reconciler would
    (its own process there, with the stack's public URL)."""
    from core.config import settings
    from core.redis import get_redis

    monkeypatch.setattr(settings, "PUBLIC_URL", live_api)
    with session_scope() as scoped:
        reconcile(scoped, queue.JobQueue(get_redis()))


def test_the_attendee_journey_on_phones_with_real_mail(
    api: Api,
    browser: Any,
    live_api: str,
    session: Session,
    faces_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    create_user(session, email="photographer@example.com")
    staff = api.login("photographer@example.com")
    event = api.create_event(staff, name="Harbour Run")
    names = ["obama_and_biden.jpg", "two_people.jpg", "kit_with_rose.jpg"]
    ids = api.upload(staff, event, {n: face_photo(EVENT_PHOTOS[n]) for n in names})
    api.wait_indexed(staff, event, len(names))

    # 1. At the venue: the QR code's page, email and consent, mails wanted. No password.
    venue = _phone(browser, live_api)
    _ask_to_join(venue, event, EMAIL, notify=True)
    shot(venue, "journey-1-check-your-mail")
    [joining] = mailed(EMAIL)
    assert joining.subject == "Confirm your email to find your photos at Harbour Run"

    # 2. The link, opened on another phone: signed in there, straight to the selfie.
    page = _phone(browser, live_api)
    page.goto(mailed_link(EMAIL))
    expect(page.locator("#selfie")).to_be_visible()
    _pick_selfie(page, "selfie.jpg", face_photo(SELFIES["obama"]))
    expect(page.locator("#photo-grid li")).to_have_count(2, timeout=60_000)
    assert _photo_ids(page) == {ids["obama_and_biden.jpg"], ids["two_people.jpg"]}
    spent = page.context.new_page()
    spent.goto(mailed_link(EMAIL))
    expect(spent.locator("#signin-title")).to_have_text("This link was used already")
    expect(spent.locator("#new-link-form")).to_be_visible()
    shot(spent, "journey-2-link-used")
    spent.close()

    # 3. A photo uploaded later arrives by itself; the digest counts all three, once.
    later = api.upload(staff, event, {"obama.jpg": face_photo(EVENT_PHOTOS["obama.jpg"])})
    expect(page.locator("#photo-grid li")).to_have_count(3, timeout=60_000)
    _digests_now(monkeypatch, live_api)
    digest = mailed(EMAIL, count=2)[0]
    assert digest.subject == "3 new photos of you at Harbour Run"
    _digests_now(monkeypatch, live_api)
    assert len(mailed(EMAIL)) == 2, "one digest per interval, never one per photo"

    # 4. The digest's footer link stops the mails.
    [stop] = [u for u in digest.links if "/unsubscribe/" in u]
    page.goto(stop)
    page.get_by_role("button", name="Stop these mails").click()
    expect(page.locator("#unsubscribe-done")).to_be_visible()
    session.expire_all()
    assert session.exec(select(Attendee.notify)).one() is False

    # 5. A second selfie from the gallery, judged as the first; both in use.
    page.goto(f"/e/{event['code']}")
    expect(page.locator("#gallery")).to_be_visible()
    expect(page.locator("#notify-toggle")).not_to_be_checked()
    page.locator("#my-selfies summary").click()
    page.locator("#extra-selfie-file").set_input_files(files=[{
        "name": "again.jpg", "mimeType": "image/jpeg",
        "buffer": face_photo("ageitgey_face_recognition/examples/obama.jpg")}])  # fmt: skip
    expect(page.locator("#extra-selfie-status")).to_contain_text("Added", timeout=60_000)
    expect(page.locator("#selfie-list li[data-status=valid]")).to_have_count(2)
    shot(page, "journey-3-two-selfies")

    # 6. "Not me", taken back at once.
    tile = page.locator(f"li[data-photo-id='{later['obama.jpg']}']")
    tile.locator("button").click()
    page.locator("#viewer-not-me").click()
    expect(tile).to_have_count(0)
    page.get_by_role("button", name="Undo").click()
    expect(tile).to_have_count(1, timeout=60_000)

    # 7. The event closes; days later, a third phone: a new link, and the photos are there.
    closed = api.http.patch(f"/api/events/{event['id']}", headers=staff,
                            json={"status": "closed"})  # fmt: skip
    assert closed.status_code == 200, closed.text
    back = _phone(browser, live_api)
    back.goto(f"/e/{event['code']}")
    expect(back.locator("#closed")).to_be_visible()
    back.locator("#sign-in-form").get_by_label("Email").fill(EMAIL)
    back.get_by_role("button", name="Mail me a sign-in link").click()
    expect(back.locator("#check-mail")).to_be_visible()
    back.goto(mailed_link(EMAIL, count=3))
    expect(back.locator("#gallery")).to_be_visible()
    expect(back.locator("#photo-count")).to_have_text("3")
    shot(back, "journey-4-back-after-closing")

    # Signing out there ends that session only.
    back.get_by_role("button", name="Sign out").click()
    expect(back.locator("#closed")).to_be_visible()
    page.reload()
    expect(page.locator("#gallery")).to_be_visible()
    for phone in (venue, page, back):
        assert phone.errors == [], phone.errors
        phone.context.close()
