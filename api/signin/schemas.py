from __future__ import annotations

from datetime import datetime

from pydantic import EmailStr
from sqlmodel import Field, SQLModel

from api.i18n import Language
from core.text import OneLine


class RegisterWithEventCode(SQLModel):
    event_code: str = Field(min_length=1, max_length=16, description="e.g. K7Q-4MZ")
    email: EmailStr
    name: OneLine | None = Field(default=None, max_length=200)
    consent: bool = Field(description="explicit consent to processing of the attendee's face")
    notify: bool = Field(default=False, description="mail me when new photos of me arrive")
    locale: Language | None = None
    """The page's language: the link's mail, and then the attendee's mails, are in it."""


class SignInLinkRequest(SQLModel):
    email: EmailStr
    event_code: str | None = Field(
        default=None, min_length=1, max_length=16, description="the event to land on"
    )
    locale: Language | None = None
    """The page's language: the link's mail is in it (and the attendee's, once it is used)."""


class LinkSent(SQLModel):
    """The same answer whether or not the address has an account: it reveals none."""

    detail: str = "if this address may sign in here, a link is on its way"
    expires_in_minutes: int


class LinkIssued(SQLModel):
    url: str
    """Give it to the attendee: it signs in once, until `expires_at`."""
    expires_at: datetime


class RedeemLink(SQLModel):
    token: str = Field(min_length=20, max_length=100)
