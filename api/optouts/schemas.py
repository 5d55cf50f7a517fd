from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from core.models import OptOutStatus


class OptOutChallengeRequest(SQLModel):
    event_code: str = Field(min_length=3, max_length=16)


class OptOutAccepted(SQLModel):
    opt_out_id: uuid.UUID
    status: OptOutStatus
    status_url: str


class OptOutState(SQLModel):
    """A request to be left out of an event's photos: judged, then done (with how many of
    your faces were removed) or rejected (with what to do)."""

    opt_out_id: uuid.UUID
    status: OptOutStatus
    reason: str | None = None
    detail: str | None = None
    faces_removed: int = 0
    created_at: datetime
