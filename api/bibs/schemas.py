from __future__ import annotations

from datetime import datetime
from typing import Literal

from sqlmodel import Field, SQLModel

from api.branding.schemas import Brand
from api.i18n import Language
from api.images import ShownPhoto

Bib = str
"""A bib number as the API takes it: 1-6 digits, leading zeros ignored ("0042" is 42)."""


class BibPhoto(ShownPhoto):
    taken_at: datetime
    """When it was taken, on the event's timeline (the list runs along the course)."""


class BibPhotos(SQLModel):
    """A bib's photos. Found by the number on the bib: no selfie, no face, no biometrics."""

    bib: str
    event_code: str
    event_name: str
    brand: Brand
    """The event's logo, accent and welcome text, for the page that shows these photos."""
    data: list[BibPhoto]
    count: int
    next_cursor: str | None = None
    """Send it back as `cursor` for the next page; None: this is the last."""
    uses_biometrics: Literal[False] = False
    claim_url: str | None = None
    """Where an attendee of the event signed in here adds this bib to their photos (a
    pass's answer only)."""


class BibPassRequest(SQLModel):
    bib: str = Field(min_length=1, max_length=12)
    locale: Language | None = None
    """The page's language: the pass's mail is in it."""


class BibPassSent(SQLModel):
    """The same answer whether or not the bib is on the start list: it reveals nobody."""

    detail: str = "if this bib is on the start list with an address, a link is on its way"
    expires_in_days: int


class MyBib(SQLModel):
    bib: str | None
    """Your bib: "my photos" holds its photos beside your face matches."""


class MyBibUpdate(SQLModel):
    bib: str = Field(min_length=1, max_length=12)


class StartListRowError(SQLModel):
    row: int
    """The line of the file (the header is line 1)."""
    column: str | None = None
    error: str
    """A stable code: `missing_bib`, `bad_bib`, `bib_out_of_range`, `duplicate_bib`,
    `bad_email`, `bad_name`."""


class StartListImported(SQLModel):
    runners: int
    """Lines stored: the whole list, which replaced the one before."""
    with_email: int


class RunnerPublic(SQLModel):
    bib: str
    name: str | None
    email: str | None
    created_at: datetime


class RunnersPublic(SQLModel):
    data: list[RunnerPublic]
    count: int
    next_cursor: str | None = None
