from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from pydantic import EmailStr, StringConstraints, computed_field
from sqlmodel import Field, SQLModel

from core.config import MAX_RETENTION_DAYS, MAX_TOLERANCE
from core.models import BibSearch, EventBase, EventStatus
from core.text import OneLine, Paragraphs

RetentionDays = Annotated[int, Field(ge=1, le=MAX_RETENTION_DAYS)]
BibNumber = Annotated[int, Field(ge=0, le=999_999)]
AccentColor = Annotated[str, StringConstraints(pattern=r"^#[0-9a-fA-F]{6}$", to_lower=True)]
WelcomeText = Annotated[Paragraphs, Field(min_length=1, max_length=1000)]


class EventCreate(EventBase):
    name: OneLine = Field(min_length=1, max_length=200)
    tolerance: float | None = Field(default=None, gt=0, le=MAX_TOLERANCE)
    retention_days: RetentionDays | None = None
    """Delete the event this many days after it closes; none: the platform's default."""
    selfie_upload: bool | None = None
    """Attendees may upload a selfie as a file (a school, where a teacher registers the
    children); otherwise only a live capture with a head-turn challenge. None: the
    platform's default (on in local mode, off in cluster mode)."""
    auto_close_days: RetentionDays | None = None
    """Close by itself this many days after the last upload; none: the platform's."""
    bibs_enabled: bool = False
    """Read bib numbers from the photos (a race): runners find photos by bib too."""
    bib_min: BibNumber | None = None
    """With `bib_max`: only numbers in this range are bibs (the rest of a read is ignored)."""
    bib_max: BibNumber | None = None
    bib_search: BibSearch = BibSearch.runner
    """Who sees a bib's photos: `runner`, by a link mailed to the start list's address,
    or `open`, anyone with the event's code."""


class EventUpdate(SQLModel):
    name: OneLine | None = Field(default=None, min_length=1, max_length=200)
    tolerance: float | None = Field(default=None, gt=0, le=MAX_TOLERANCE)
    status: Literal[EventStatus.open, EventStatus.closed] | None = None
    """Close or reopen; an event is deleted with DELETE, not by its status."""
    retention_days: RetentionDays | None = None
    selfie_upload: bool | None = None
    auto_close_days: RetentionDays | None = None
    bibs_enabled: bool | None = None
    bib_min: BibNumber | None = None
    bib_max: BibNumber | None = None
    bib_search: BibSearch | None = None
    accent_color: AccentColor | None = None
    """The brand's accent, "#rrggbb", on buttons and highlights of the attendee pages."""
    welcome_text: WelcomeText | None = None
    """A few lines for attendees at the top of the event's page and its mails."""
    watermark: bool | None = None
    """Burn the photographer's mark (the logo, else `watermark_text`, else the event's
    name) into every preview and thumbnail; originals are never marked."""
    watermark_text: OneLine | None = Field(default=None, min_length=1, max_length=60)
    originals_downloadable: bool | None = None
    """Attendees (and runners, and gallery visitors) may download the original files;
    otherwise the 1600 px preview only."""
    zips_allowed: bool | None = None
    """Attendees may download their photos as one zip."""


class EventPublic(EventBase):
    your_role: Literal["owner", "admin", "contributor"] | None = None
    """What the caller is at this event (in lists): a contributor uploads, sees the
    event's counts and their own photos, and nothing else."""
    id: uuid.UUID
    code: str
    owner_id: uuid.UUID
    status: EventStatus
    tolerance: float
    join_url: str
    created_at: datetime
    closed_at: datetime | None = None
    retention_days: int | None = None
    """The event's own setting; none: the platform's default."""
    deletes_at: datetime | None = None
    """When the retention rule deletes it: its closing plus its (or the platform's) days."""
    selfie_upload: bool
    """Whether a selfie may be a file, or must be taken live (its setting, else the
    platform's)."""
    auto_close_days: int | None = None
    """Closes by itself this many days after its last upload (its setting, else the
    platform's; none: never)."""
    bibs_enabled: bool = False
    bib_min: int | None = None
    bib_max: int | None = None
    bib_search: BibSearch = BibSearch.runner
    accent_color: str | None = None
    welcome_text: str | None = None
    logo_url: str | None = None
    watermark: bool = False
    watermark_text: str | None = None
    originals_downloadable: bool = True
    zips_allowed: bool = True


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


class HandOver(SQLModel):
    email: EmailStr
    """The photographer (or admin) who owns the event from now on."""


class DeletionAccepted(SQLModel):
    event_id: uuid.UUID
    job_id: str
    status: EventStatus
    status_url: str
    """The event while it is being deleted (status `deleting`); 404 once it is gone."""


class RematchAccepted(SQLModel):
    event_id: uuid.UUID
    job_id: str
    status_url: str
