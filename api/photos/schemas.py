from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import StringConstraints
from sqlmodel import Field, SQLModel

from core.models import PhotoStatus


class FaceBox(SQLModel):
    """Where a face is, in the photo's own upright pixels. Never its encoding."""

    top: int
    right: int
    bottom: int
    left: int


class PhotoPublic(SQLModel):
    id: uuid.UUID
    event_id: uuid.UUID
    filename: str
    status: PhotoStatus
    width: int
    height: int
    bytes: int
    face_count: int | None
    error: str | None
    created_at: datetime
    indexed_at: datetime | None
    uploaded_by: uuid.UUID | None = None
    """The photographer who uploaded it."""
    taken_at: datetime | None = None
    """The camera's capture time (EXIF), as the file says it."""
    captured_at: datetime
    """The capture time on the event's timeline (with the photographer's clock correction);
    the upload time when the file has none. Lists are ordered by it."""
    faces: list[FaceBox] = []


class PhotosPublic(SQLModel):
    data: list[PhotoPublic]
    count: int
    next_cursor: str | None = None
    """Send it back as `cursor` for the next page; None: this is the last."""


class UploadResult(SQLModel):
    """One entry per uploaded file: an id and status, or why it was refused."""

    filename: str
    id: uuid.UUID | None = None
    status: PhotoStatus | None = None
    duplicate: bool = False
    """The event has these bytes already: `id` is that photo, and nothing was stored."""
    error: str | None = None
    code: str | None = None
    detail: str | None = None


class PhotoDeleted(SQLModel):
    """What went with the photo: its file and previews, and these rows."""

    faces: int
    matches: int


Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
MAX_HASHES = 2_000
"""Hashes a request may ask about: 2,000 are ~140 KB of JSON, under FACEMATCH_MAX_BODY_BYTES."""


class KnownPhotosQuery(SQLModel):
    """Hashes first: an upload client asks which of its files the event has already."""

    sha256: list[Sha256] = Field(max_length=MAX_HASHES)
    """Lower-case hex SHA-256 of each file's bytes, at most 2,000 a request."""


class KnownPhotos(SQLModel):
    known: list[str]
    """The hashes the event has a photo of: a client sends only the others."""


class UploadAccepted(SQLModel):
    data: list[UploadResult]
    accepted: int
    """New photos, stored and queued for indexing."""
    duplicates: int = 0
    """Files the event has already: skipped."""
    rejected: int


class PersonInPhoto(SQLModel):
    attendee_id: uuid.UUID
    name: str | None
    """The name the attendee registered with."""
    distance: float
    matched_at: datetime
    face: FaceBox
    """The face they were found by."""


class PhotoPeople(SQLModel):
    data: list[PersonInPhoto]


class DownloadLink(SQLModel):
    url: str
    """Open it within `expires_at`: no bearer token needed, for this download only."""
    expires_at: datetime
