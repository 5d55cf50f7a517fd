from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from sqlmodel import SQLModel

from api.images import ShownPhoto


class MatchedPhoto(ShownPhoto):
    distance: float | None
    """The face match's distance; none for a photo found by its bib alone."""
    matched_at: datetime
    found_by: list[Literal["face", "bib"]]
    """How it was found: by your face, by your bib, or both."""


class MatchedPhotos(SQLModel):
    data: list[MatchedPhoto]
    count: int
    next_cursor: str | None = None
    """Send it back as `cursor` for the next page; None: this is the last."""


class HiddenPhoto(SQLModel):
    """A photo the attendee said is not them: named, never shown (it is someone else's)."""

    id: uuid.UUID
    filename: str
    hidden_at: datetime
    """When the attendee said "not me"."""


class HiddenPhotos(SQLModel):
    data: list[HiddenPhoto]
