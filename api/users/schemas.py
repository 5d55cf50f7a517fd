from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import EmailStr
from sqlmodel import Field, SQLModel

from api.i18n import Language
from core.models import Role, UserBase
from core.text import OneLine


class AccountDeletion(SQLModel):
    """A stolen session alone cannot delete an account: staff give their password again;
    attendees, who have none, type the account's email and confirm by a mailed link."""

    password: str | None = Field(default=None, min_length=1, max_length=128)
    email: str | None = Field(default=None, min_length=1, max_length=320)
    locale: Language | None = None
    """The page's language: an attendee's confirmation mail is in it."""


class AccountDeleted(SQLModel):
    events_joined: int
    """The events the attendee had joined; their registrations went with the account."""
    selfies: int
    selfie_images: int
    encodings: int
    matches: int


class DeletionMailed(SQLModel):
    detail: str = "a link to confirm the deletion is on its way to the account's address"
    expires_in_minutes: int


class DeletionConfirmation(SQLModel):
    token: str = Field(min_length=16, max_length=128)


class UserActivation(SQLModel):
    is_active: bool


class ResetLink(SQLModel):
    url: str
    """Give it to the account's owner: it sets a new password once, until `expires_at`."""
    expires_at: datetime


class PasswordResetRequest(SQLModel):
    token: str = Field(min_length=16, max_length=128)
    password: str = Field(min_length=8, max_length=128)


class UserCreate(SQLModel):
    email: EmailStr
    password: str = Field(min_length=8, max_length=128)
    full_name: OneLine | None = Field(default=None, max_length=200)
    role: Role = Role.photographer


class UserPublic(UserBase):
    id: uuid.UUID
    is_active: bool
    created_at: datetime


class UsersPublic(SQLModel):
    data: list[UserPublic]
    count: int
    next_cursor: str | None = None
    """Send it back as `cursor` for the next page; None: this is the last."""
