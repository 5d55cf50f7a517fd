"""axe-core (the engine Deque's and Google's audits run) on every attendee page in every
language, and on every studio and admin page, in Chromium: no serious or critical
violation. Sections a page shows only in some states (the gallery, a rejected selfie, the
studio's folded cards) are all shown before the check, so that their markup is checked
too. The event wears a pale yellow accent: the hard case for contrast."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from sqlmodel import Session

from api.i18n import LANGUAGES
from tests.helpers import create_user, logo_bytes
from tests.web.conftest import Api

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

SERIOUS = {"serious", "critical"}
SHOW_EVERYTHING = """() => {
  document.querySelectorAll('[hidden]').forEach((node) => {
    if (!node.closest('dialog')) node.hidden = false;
  });
  document.querySelectorAll('details').forEach((node) => { node.open = true; });
}"""


def _violations(page: Any) -> list[str]:
    page.wait_for_load_state("networkidle")
    page.evaluate(SHOW_EVERYTHING)
    results = Axe().run(page)
    found = []
    for violation in results.response["violations"]:
        if violation["impact"] in SERIOUS:
            targets = [", ".join(node["target"]) for node in violation["nodes"]][:5]
            found.append(f"{violation['id']} ({violation['impact']}): {targets}")
    return found


@pytest.fixture
def world(api: Api, session: Session) -> dict[str, Any]:
    create_user(session, email="studio@example.com")
    create_user(session, email="root@example.com", role="admin")
    headers = api.login("studio@example.com")
    event = api.create_event(headers, name="Harbour Regatta")
    changed = api.http.patch(f"/api/events/{event['id']}", headers=headers, json={
        "accent_color": "#ffd400", "welcome_text": "Fair winds!", "bibs_enabled": True,
        "bib_search": "open"})  # fmt: skip
    assert changed.status_code == 200, changed.text
    api.http.put(f"/api/events/{event['id']}/logo", headers=headers,
                 files={"file": ("logo.png", logo_bytes())}).raise_for_status()  # fmt: skip
    gallery = api.open_gallery(headers, event, "harbour-regatta")
    return {
        "event": event,
        "gallery": gallery,
        "staff": headers["Authorization"].removeprefix("Bearer "),
        "admin": api.login("root@example.com")["Authorization"].removeprefix("Bearer "),
    }


def _attendee_pages(world: dict[str, Any]) -> list[str]:
    code = world["event"]["code"]
    return ["/", f"/e/{code}", f"/e/{code}/bib/42", "/bib", world["gallery"], "/me", "/signin",
            "/unsubscribe/not-a-token", "/delete-account", "/privacy", "/e/NOSUCH"]  # fmt: skip


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_every_attendee_page_has_no_serious_violation(
    phone: Any, world: dict[str, Any], language: str
) -> None:
    phone.set_extra_http_headers({"Accept-Language": language})
    failures = {}
    for path in _attendee_pages(world):
        phone.goto(path)
        assert phone.locator("html").get_attribute("lang") == language, path
        if found := _violations(phone):
            failures[path] = found
    assert failures == {}, "\n".join(f"{p}: {v}" for p, vs in failures.items() for v in vs)


def test_every_studio_and_admin_page_has_no_serious_violation(
    laptop: Any, world: dict[str, Any]
) -> None:
    pages = {
        None: ["/login", "/reset-password"],
        "staff": ["/studio", f"/studio/events/{world['event']['id']}"],
        "admin": ["/admin"],
    }
    failures = {}
    for token, paths in pages.items():
        laptop.goto("/")
        laptop.evaluate("(token) => token ? localStorage.setItem('facematch.token', token) "
                        ": localStorage.clear()", world[token] if token else None)  # fmt: skip
        for path in paths:
            laptop.goto(path)
            if found := _violations(laptop):
                failures[path] = found
    assert failures == {}, "\n".join(f"{p}: {v}" for p, vs in failures.items() for v in vs)
