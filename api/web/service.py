"""What the web pages need beyond the JSON API: the join QR code and the privacy policy."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

import segno

from api.events.service import join_url
from core.config import settings
from core.models import Event

QR_MEDIA_TYPES = {"svg": "image/svg+xml", "png": "image/png"}


def join_qr(event: Event, kind: Literal["svg", "png"]) -> bytes:
    """The QR code of the event's join link, dark on white with a quiet zone."""
    qr = segno.make(join_url(event), error="m")
    out = io.BytesIO()
    if kind == "svg":
        qr.save(out, kind="svg", scale=10, border=4, xmldecl=False, title=f"Join {event.name}")
    else:
        qr.save(out, kind="png", scale=16, border=4)
    return out.getvalue()


@dataclass(frozen=True)
class PrivacyPolicy:
    """The facts the consent text and /privacy state, from the running settings."""

    version: str
    selfie_limit: int
    tolerance: float
    keep_selfie_images: bool
    unmatched_retention_hours: float
    event_retention_days: int | None
    digest_minutes: int
    auto_close_days: int | None


def privacy_policy() -> PrivacyPolicy:
    return PrivacyPolicy(
        version=settings.CONSENT_POLICY_VERSION,
        selfie_limit=settings.MAX_SELFIES_PER_ATTENDEE,
        tolerance=settings.MATCH_TOLERANCE,
        keep_selfie_images=settings.KEEP_SELFIE_IMAGES,
        unmatched_retention_hours=settings.UNMATCHED_FACE_RETENTION_HOURS,
        event_retention_days=settings.EVENT_RETENTION_DAYS,
        digest_minutes=settings.DIGEST_INTERVAL_MINUTES,
        auto_close_days=settings.AUTO_CLOSE_DAYS,
    )
