from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from api.branding.schemas import Brand
from api.images import ShownPhoto

MAX_GALLERY_DAYS = 90


class GalleryUpdate(SQLModel):
    password: str = Field(min_length=8, max_length=128)
    """What visitors type besides the link; stored as an argon2id hash."""
    expires_at: datetime
    """The link stops working then: within MAX_GALLERY_DAYS."""


class GalleryPublic(SQLModel):
    enabled: bool = False
    url: str | None = None
    """The link to share (with the password, apart)."""
    expires_at: datetime | None = None


class GalleryOpen(SQLModel):
    password: str = Field(min_length=1, max_length=128)


class GalleryAccess(SQLModel):
    access_token: str
    """Send it as `Authorization: Bearer …` to the gallery's photo routes."""
    expires_at: datetime


class GalleryInfo(SQLModel):
    """What the gallery's page shows before the password: whose photos these are."""

    event_name: str
    brand: Brand
    expires_at: datetime


class GalleryPhotos(SQLModel):
    event_name: str
    data: list[ShownPhoto]
    count: int
    next_cursor: str | None = None
