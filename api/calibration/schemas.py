from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import Field
from sqlmodel import SQLModel

from core.config import MAX_TOLERANCE


class DistanceBin(SQLModel):
    low: float
    high: float
    matched: int
    """Faces within [low, high) of their nearest attendee that make a match."""
    unmatched: int
    """Faces there that match nobody: beyond the tolerance, too near a runner-up, or weak."""
    lookalike: int
    """Faces there held back as a look-alike's (their group is someone else's)."""


class AttendeePhotos(SQLModel):
    attendee_id: uuid.UUID
    name: str | None
    photos: int


class Calibration(SQLModel):
    tolerance: float
    margin: float
    matches: int
    histogram: list[DistanceBin]
    """How near each face is to its nearest attendee, 0.30 to 0.80 in steps of 0.02."""
    attendees: list[AttendeePhotos]
    """Every attendee with a valid selfie and their photos now, most photos first."""


class PreviewRequest(SQLModel):
    tolerance: float = Field(ge=0.3, le=MAX_TOLERANCE)
    """Rounded to two decimals, as the event's own tolerance is set."""


class AttendeeChange(SQLModel):
    attendee_id: uuid.UUID
    name: str | None
    photos_now: int
    photos_then: int


class TolerancePreviewPublic(SQLModel):
    event_id: uuid.UUID
    tolerance: float
    status: str
    """pending until a worker has computed it, then done."""
    status_url: str
    requested_at: datetime
    finished_at: datetime | None = None
    matches_now: int | None = None
    matches_then: int | None = None
    gained: int | None = None
    """(attendee, photo) pairs the tolerance would add."""
    lost: int | None = None
    """(attendee, photo) pairs it would take away."""
    attendees_affected: int | None = None
    attendees: list[AttendeeChange] = []
    """Those whose photos would change, the biggest change first."""
