from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import computed_field
from sqlmodel import Field, SQLModel

from api.config import MAX_TOLERANCE
from api.models import EventBase, EventStatus


class EventCreate(EventBase):
    tolerance: float | None = Field(default=None, gt=0, le=MAX_TOLERANCE)


class EventUpdate(SQLModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    tolerance: float | None = Field(default=None, gt=0, le=MAX_TOLERANCE)
    status: EventStatus | None = None


class EventPublic(EventBase):
    id: uuid.UUID
    code: str
    owner_id: uuid.UUID
    status: EventStatus
    tolerance: float
    join_url: str
    created_at: datetime


class EventProgress(SQLModel):
    photos_total: int = 0
    photos_pending: int = 0
    photos_indexing: int = 0
    photos_indexed: int = 0
    photos_failed: int = 0
    faces: int = 0
    attendees: int = 0
    matches: int = 0
    attendees_matched: int = 0
    """Attendees with at least one photo."""
    rematch_pending: bool = False

    @computed_field  # type: ignore[prop-decorator]
    @property
    def match_rate(self) -> float | None:
        """The share of attendees with at least one photo; None before anyone joins."""
        return round(self.attendees_matched / self.attendees, 4) if self.attendees else None


class EventDetail(EventPublic):
    progress: EventProgress


class EventsPublic(SQLModel):
    data: list[EventPublic]
    count: int
    next_cursor: str | None = None
    """Send it back as `cursor` for the next page; None: this is the last."""


class RematchAccepted(SQLModel):
    event_id: uuid.UUID
    job_id: str
    status_url: str
