"""A live selfie on a phone, from Chromium's fake camera playing real photos of one person
looking straight and turning each way (a Y4M built here, never stored)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import expect
from sqlmodel import Session

from tests.helpers import TURNS, create_user
from tests.web.conftest import CHROMIUM, PHONE, SCREENSHOTS, Api, _page, shot
from tests.web.test_attendee import _register

pytestmark = [pytest.mark.faces, pytest.mark.e2e, pytest.mark.browser]
SIZE = (640, 480)
FPS = 5
HOLD_SECONDS = 3
POSES = ("straight", "left", "right")
THUMB = (16, 12)
_THUMBNAIL = """() => {
  const video = document.querySelector('.live-video');
  if (!video || video.readyState < 2) return null;
  const canvas = document.createElement('canvas');
  canvas.width = 16; canvas.height = 12;
  const context = canvas.getContext('2d');
  context.drawImage(video, 0, 0, 16, 12);
  return Array.from(context.getImageData(0, 0, 16, 12).data);
}"""


def _pose_images(faces_dir: Path) -> dict[str, np.ndarray]:
    """Each pose of guido's TURNS, letterboxed into the camera's SIZE, as RGB."""
    import cv2

    from loadtest.datasets import upright

    images = {}
    for pose in POSES:
        rgb = np.asarray(upright(TURNS["guido"][pose]))
        k = min(SIZE[0] / rgb.shape[1], SIZE[1] / rgb.shape[0])
        small = cv2.resize(rgb, (round(rgb.shape[1] * k), round(rgb.shape[0] * k)),
                           interpolation=cv2.INTER_AREA)  # fmt: skip
        canvas = np.full((SIZE[1], SIZE[0], 3), 32, dtype=np.uint8)
        y, x = (SIZE[1] - small.shape[0]) // 2, (SIZE[0] - small.shape[1]) // 2
        canvas[y : y + small.shape[0], x : x + small.shape[1]] = small
        images[pose] = canvas
    return images


def _write_y4m(path: Path, images: dict[str, np.ndarray]) -> None:
    """Each pose held HOLD_SECONDS, in turn; Chromium plays the file in a loop."""
    import cv2

    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{SIZE[0]} H{SIZE[1]} F{FPS}:1 Ip A1:1 C420jpeg\n".encode())
        for pose in POSES:
            planes = cv2.cvtColor(images[pose], cv2.COLOR_RGB2YUV_I420).tobytes()
            for _ in range(FPS * HOLD_SECONDS):
                out.write(b"FRAME\n" + planes)


@pytest.fixture
def camera_phone(
    browser: Any, live_api: str, faces_dir: Path, tmp_path: Path
) -> Iterator[tuple[Any, dict]]:  # type: ignore[type-arg]
    images = _pose_images(faces_dir)
    video = tmp_path / "turning.y4m"
    _write_y4m(video, images)
    thumbs = {pose: _thumb(image) for pose, image in images.items()}
    # A Chromium of its own, whose camera plays the video; the session's Playwright drives it.
    camera = browser.browser_type.launch(
        executable_path=str(CHROMIUM),
        headless=True,
        args=[
            "--no-sandbox",
            "--use-fake-ui-for-media-stream",
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    try:
        for page in _page(camera, live_api, {**PHONE, "permissions": ["camera"]}):
            yield page, thumbs
    finally:
        camera.close()


def _thumb(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.resize(rgb, THUMB, interpolation=cv2.INTER_AREA).astype(np.float32)


def _showing(page: Any, thumbs: dict[str, np.ndarray]) -> str | None:
    """Which pose the page's camera preview shows now (the nearest thumbnail)."""
    pixels = page.evaluate(_THUMBNAIL)
    if pixels is None:
        return None
    rgb = np.asarray(pixels, dtype=np.float32).reshape(THUMB[1], THUMB[0], 4)[:, :, :3]
    return min(thumbs, key=lambda pose: float(((thumbs[pose] - rgb) ** 2).mean()))


def _tap_when_showing(page: Any, thumbs: dict[str, np.ndarray], pose: str) -> None:
    """Tap the shutter just after the camera turns to `pose`: HOLD_SECONDS before it moves on."""
    deadline = time.monotonic() + 3 * len(POSES) * HOLD_SECONDS
    before = _showing(page, thumbs)
    while True:
        now = _showing(page, thumbs)
        if now == pose and before not in (None, pose):
            break
        before = now
        assert time.monotonic() < deadline, f"the camera never turned to {pose}"
        time.sleep(0.1)
    page.locator(".live-shutter").click()


def _screen_without_the_face(page: Any, name: str) -> None:
    """The phone's screen as it is (for the README), the preview blacked out: the camera
    plays a real person's photos from ../shared, which are never kept here."""
    SCREENSHOTS.mkdir(exist_ok=True)
    page.evaluate("() => { document.querySelector('.live-video').style.visibility = 'hidden'; }")
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"))
    page.evaluate("() => { document.querySelector('.live-video').style.visibility = ''; }")


def test_a_live_selfie_from_the_phone_camera_is_accepted(
    camera_phone: tuple[Any, dict],
    api: Api,
    session: Session,  # type: ignore[type-arg]
) -> None:
    page, thumbs = camera_phone
    create_user(session, email="photographer@example.com")
    headers = api.login("photographer@example.com")
    created = api.http.post("/api/events", json={"name": "Open day", "selfie_upload": False},
                            headers=headers)  # fmt: skip
    event = created.json()
    assert event["selfie_upload"] is False
    _register(page, event, "guido@example.com")
    expect(page.locator("label[for=selfie-file]")).to_have_count(0)  # live only at this event
    page.get_by_role("button", name="Take my selfie").click()
    capture = page.locator("#live-selfie")
    expect(capture.locator(".live-title")).to_have_text("Look straight at the camera")
    steps = []
    for n in range(len(POSES)):
        step = capture.get_attribute("data-step")
        assert step in POSES and step not in steps
        steps.append(step)
        if n == 0:
            _screen_without_the_face(page, "live-1-straight")
        elif n == 1:
            expect(capture.locator(".live-title")).to_have_text(f"Turn your head to your {step}")
            # The shutter is on the screen, within a thumb's reach, without scrolling.
            box = page.locator(".live-shutter").bounding_box()
            assert box is not None and box["y"] + box["height"] <= PHONE["viewport"]["height"]
            assert box["y"] > PHONE["viewport"]["height"] / 2
            _screen_without_the_face(page, f"live-2-turn-{step}")
        _tap_when_showing(page, thumbs, step)
        if n < len(POSES) - 1:
            # The frame is drawn at the tap; Chromium encodes it to JPEG in idle time,
            # which a loaded CI machine may not give for seconds.
            expect(capture).not_to_have_attribute("data-step", step, timeout=30_000)
    assert steps[0] == "straight"
    expect(page.locator("#gallery")).to_be_visible(timeout=60_000)
    shot(page, "live-3-accepted")
