from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import EmailStr
from sqlmodel import Field, SQLModel

MAX_CLOCK_OFFSET = 7 * 24 * 3600
"""A camera a week off is the furthest a correction goes (a date set wrong by days)."""


class ContributorInvite(SQLModel):
    email: EmailStr


class Photographer(SQLModel):
    """Someone who photographs the event: its owner, a contributor, or a past uploader."""

    email: str
    role: Literal["owner", "contributor", "former"]
    """`former`: uploaded photos, and is no longer invited (the photos stay)."""
    user_id: uuid.UUID | None
    """None while the invited address has no photographer account."""
    name: str | None = None
    photos: int = 0
    clock_offset_seconds: int = 0
    invited_at: datetime | None = None


class Photographers(SQLModel):
    data: list[Photographer]


class ClockCorrection(SQLModel):
    offset_seconds: int = Field(ge=-MAX_CLOCK_OFFSET, le=MAX_CLOCK_OFFSET)
    """Added to the camera's time of each of this photographer's photos at the event: a
    camera 1 hour slow is +3600."""


class ClockCorrected(SQLModel):
    offset_seconds: int
    photos_moved: int
    """Photos whose capture time moved (those with a capture time in their file)."""
