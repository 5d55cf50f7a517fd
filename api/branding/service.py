"""An event's brand (logo, accent colour, welcome text) and its watermark.

The logo is re-encoded here as a PNG of at most LOGO_SIDE pixels: what is stored and served
is an image Pillow drew, never the uploaded bytes (no polyglot, no script in an SVG, no
metadata). It lives with the event's files (`core.storage.logo_key`), so the event's
deletion takes it.
"""

from __future__ import annotations

import functools
import io
import re

from fastapi import Request
from PIL import Image, ImageOps
from sqlmodel import Session

from api import watermark
from api.bodies import LOGO_MAX_BYTES
from api.branding.schemas import Brand, LogoStored
from api.errors import InvalidImage, NotFound
from api.events import service as events
from api.images import inspect_image
from api.links import public_url
from core.db import on_commit, on_rollback
from core.models import Event
from core.storage import Storage, logo_key

LOGO_MIN_SIDE = 32
LOGO_SIDE = 800
"""A stored logo's longest side: enough for a page's header and a preview's mark."""
LOGO_TYPES = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WebP"}
DEFAULT_ACCENT = "#2957d8"
"""The platform's accent (app.css `--accent`)."""
ACCENT = re.compile(r"#[0-9a-f]{6}")


def store_logo(session: Session, storage: Storage, event: Event, data: bytes) -> LogoStored:
    """Check the upload, store it as a PNG, and point the event at it. The new file gets
    its own key: a rollback deletes it and keeps the old logo; a commit deletes the old."""
    events.refuse_if_deleting(event)
    info = inspect_image(data, max_bytes=LOGO_MAX_BYTES)
    if info.content_type not in LOGO_TYPES:
        raise InvalidImage(f"a logo is a {', '.join(LOGO_TYPES.values())} file",
                           code="unsupported_logo_format")  # fmt: skip
    if min(info.width, info.height) < LOGO_MIN_SIDE:
        raise InvalidImage(f"the logo is {info.width}x{info.height}; at least "
                           f"{LOGO_MIN_SIDE} px on each side", code="logo_too_small")  # fmt: skip
    png, width, height = _as_png(data)
    old_key = event.logo_key
    event.logo_version += 1
    event.logo_key = logo_key(event.id, event.logo_version)
    storage.put(event.logo_key, png)
    on_rollback(session, functools.partial(storage.delete, event.logo_key))
    if old_key:
        on_commit(session, functools.partial(storage.delete, old_key))
    if event.watermark:
        events.change_mark(session, event)
    session.add(event)
    return LogoStored(logo_url=events.logo_url(event) or "", width=width, height=height)


def _as_png(data: bytes) -> tuple[bytes, int, int]:
    with Image.open(io.BytesIO(data)) as image:
        image.load()
        upright = ImageOps.exif_transpose(image).convert("RGBA")
    upright.thumbnail((LOGO_SIDE, LOGO_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    upright.save(out, "PNG", optimize=True)
    return out.getvalue(), upright.width, upright.height


def delete_logo(session: Session, storage: Storage, event: Event) -> None:
    """The event shows no logo (and its watermark, if on, becomes its text)."""
    events.refuse_if_deleting(event)
    if event.logo_key is None:
        return
    on_commit(session, functools.partial(storage.delete, event.logo_key))
    event.logo_key = None
    event.logo_version += 1
    if event.watermark:
        events.change_mark(session, event)
    session.add(event)


def event_of_code(session: Session, request: Request, code: str) -> Event:
    """The live event with this code (a miss counts against the caller's guesses)."""
    event = events.event_for_code(session, request, code)
    if not events.is_live(event):
        raise NotFound("no event has this code", code="event_not_found")
    assert event is not None
    return event


def read_logo(storage: Storage, event: Event) -> bytes:
    if event.logo_key is None:
        raise NotFound("this event has no logo", code="logo_not_found")
    try:
        return storage.get(event.logo_key)
    except FileNotFoundError:
        raise NotFound("this event has no logo", code="logo_not_found") from None


def brand(event: Event) -> Brand:
    """What the event's attendee pages and mails show of its photographer's brand."""
    accent = event.accent_color or DEFAULT_ACCENT
    return Brand(name=event.name, logo_url=events.logo_url(event), welcome_text=event.welcome_text,
                 accent=accent, accent_ink=ink_on(accent),
                 accent_on_white=readable_on_white(accent))  # fmt: skip


def mail_brand(event: Event | None) -> Brand | None:
    """`brand` for a mail about `event`: its logo's address is absolute (a mail client has
    no page to resolve it against)."""
    if event is None:
        return None
    found = brand(event)
    if found.logo_url:
        found.logo_url = public_url(found.logo_url)
    return found


def mark(storage: Storage, event: Event) -> watermark.Mark:
    """The event's watermark: its logo, else its watermark text, else its name."""
    key = f"{event.id}:{event.mark_version}"
    text = event.watermark_text or event.name
    if event.logo_key is None:
        return watermark.Mark(key=key, text=text)
    return watermark.Mark(key=key, text=text, logo=functools.partial(storage.get, event.logo_key))


def _luminance(colour: str) -> float:
    """WCAG 2's relative luminance of "#rrggbb"."""
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    """WCAG 2's contrast ratio of two colours, 1 to 21."""
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def ink_on(accent: str) -> str:
    """Black or white text on `accent`: whichever contrasts more (one is always 4.5:1+)."""
    return "#000000" if contrast(accent, "#000000") >= contrast(accent, "#ffffff") else "#ffffff"


PAGE_BACKGROUND = "#f5f6f9"
"""app.css `--bg`, the page's background around the cards: a shade darker than white."""


def readable_on_white(accent: str, minimum: float = 4.5) -> str:
    """`accent`, darkened just enough for text to reach `minimum` contrast on the cards'
    white and on the page's background around them."""
    r, g, b = (int(accent[i : i + 2], 16) for i in (1, 3, 5))
    for step in range(101):
        scale = 1 - step / 100
        colour = f"#{round(r * scale):02x}{round(g * scale):02x}{round(b * scale):02x}"
        if contrast(colour, PAGE_BACKGROUND) >= minimum:
            return colour
    return "#000000"


def brand_css(brand: Brand) -> str:
    """CSS variables of an event's accent (app.css reads them). The colours are "#rrggbb",
    checked when set, so nothing else can reach the stylesheet."""
    return (f":root {{ --accent: {brand.accent}; --accent-ink: {brand.accent_ink}; "
            f"--link: {brand.accent_on_white}; }}\n")  # fmt: skip
