from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import SQLModel

from core.models import SelfieStatus


class HeldSelfie(SQLModel):
    """A selfie whose face is another attendee's too: not matched until reviewed."""

    selfie_id: uuid.UUID
    attendee_id: uuid.UUID
    email: str
    name: str | None = None
    held_for_attendee_id: uuid.UUID | None = None
    """The attendee of the event whose selfie is the same face (none: since deleted)."""
    held_for_email: str | None = None
    held_for_name: str | None = None
    created_at: datetime


class HeldSelfies(SQLModel):
    data: list[HeldSelfie]
    count: int


class ReviewDone(SQLModel):
    selfie_id: uuid.UUID
    status: SelfieStatus
