"""Browser fixtures: Debian's Chromium driven by Playwright, against a live API and worker.

Each page records uncaught script errors and CSP violations; a test fails if any happened.
Screenshots go to tests/web/screenshots/ (git-ignored) for a person to look at.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.helpers import PASSWORD

CHROMIUM = Path(os.environ.get("FACEMATCH_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = Path(__file__).parent / "screenshots"
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
}
LAPTOP = {"viewport": {"width": 1280, "height": 900}}


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium is not at {CHROMIUM}: apt-get install chromium (or .ci/run does it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True
        )
        yield browser
        browser.close()


def _page(browser: Any, base_url: str, options: dict[str, Any]) -> Iterator[Any]:
    context = browser.new_context(base_url=base_url, accept_downloads=True, **options)
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # The app must work under its own Content-Security-Policy: a blocked script,
    # style or image is a bug even where the test happens not to notice it.
    page.on(
        "console",
        lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    yield page
    context.close()
    assert errors == [], f"script errors on the page: {errors}"


@pytest.fixture
def phone(browser: Any, live_api: str) -> Iterator[Any]:
    """A phone-sized page, as an attendee opening the QR link would have."""
    yield from _page(browser, live_api, PHONE)


@pytest.fixture
def laptop(browser: Any, live_api: str) -> Iterator[Any]:
    """A laptop-sized page, as a photographer or an admin would have."""
    yield from _page(browser, live_api, LAPTOP)


ALL_IMAGES_LOADED = (
    "() => [...document.querySelectorAll('#photo-grid img')].every(i => i.naturalWidth > 0)"
)


def wait_until(page: Any, function: str, timeout: float = 20) -> None:
    """Poll a JS function from here until it returns true.

    Playwright's wait_for_function evaluates its predicate with eval() inside the
    page, which the app's CSP forbids (rightly); page.evaluate is not subject to it.
    """
    deadline = time.monotonic() + timeout
    while not page.evaluate(function):
        assert time.monotonic() < deadline, f"not true within {timeout} s: {function}"
        time.sleep(0.1)


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


class Api:
    """The JSON API of the live server, for a test's setup and its checks."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=base_url, timeout=30)

    def login(self, email: str, password: str = PASSWORD) -> dict[str, str]:
        response = self.http.post("/api/auth/token", data={"username": email, "password": password})
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['access_token']}"}

    def create_event(self, headers: dict[str, str], name: str = "Gala") -> dict[str, Any]:
        response = self.http.post("/api/events", json={"name": name}, headers=headers)
        response.raise_for_status()
        return dict(response.json())

    def open_gallery(
        self, headers: dict[str, str], event: dict[str, Any], password: str, days: int = 3
    ) -> str:
        """Turn on the event's browse-all gallery: its link."""
        until = (datetime.now(UTC) + timedelta(days=days)).isoformat()
        response = self.http.put(f"/api/events/{event['id']}/gallery", headers=headers,
                                 json={"password": password, "expires_at": until})  # fmt: skip
        assert response.status_code == 200, response.text
        return str(response.json()["url"])

    def upload(
        self, headers: dict[str, str], event: dict[str, Any], files: dict[str, bytes]
    ) -> dict[str, str]:
        """Upload photos; their ids by file name."""
        parts = [("files", (name, data)) for name, data in files.items()]
        response = self.http.post(f"/api/events/{event['id']}/photos", files=parts, headers=headers)
        assert response.status_code == 202, response.text
        return {r["filename"]: r["id"] for r in response.json()["data"]}

    def wait_indexed(
        self, headers: dict[str, str], event: dict[str, Any], count: int, timeout: float = 180
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            progress = self.http.get(f"/api/events/{event['id']}", headers=headers).json()
            progress = progress["progress"]
            if progress["photos_indexed"] + progress["photos_failed"] >= count:
                return dict(progress)
            assert time.monotonic() < deadline, f"not indexed in {timeout} s: {progress}"
            time.sleep(0.5)


@pytest.fixture
def api(live_api: str) -> Iterator[Api]:
    client = Api(live_api)
    yield client
    client.http.close()
