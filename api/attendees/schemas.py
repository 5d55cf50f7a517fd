from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import EmailStr
from sqlmodel import Field, SQLModel

from core.models import SelfieStatus
from core.text import OneLine


class RegisterWithEventCode(SQLModel):
    event_code: str = Field(min_length=1, max_length=16, description="e.g. K7Q-4MZ")
    email: EmailStr
    name: OneLine | None = Field(default=None, max_length=200)
    consent: bool = Field(description="explicit consent to processing of the attendee's face")
    notify: bool = Field(default=False, description="mail me when new photos of me arrive")


class SignInLinkRequest(SQLModel):
    email: EmailStr
    event_code: str | None = Field(
        default=None, min_length=1, max_length=16, description="the event to land on"
    )


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


class Registered(SQLModel):
    access_token: str
    token_type: str = "bearer"
    attendee_id: uuid.UUID
    event_id: uuid.UUID
    event_code: str


class MyEvent(SQLModel):
    """One event the account joined."""

    attendee_id: uuid.UUID
    event_id: uuid.UUID
    code: str
    name: str
    status: str
    photos: int
    """Photos of you there."""
    notify: bool
    consent_current: bool
    current: bool
    """The event of the token that asked."""


class MyEvents(SQLModel):
    data: list[MyEvent]
    count: int


class ConsentState(SQLModel):
    policy_version: str
    """The policy in force."""
    consented_version: str
    consented_at: datetime
    current: bool
    """False after the policy changed: nothing new is matched until you consent again."""


class GiveConsent(SQLModel):
    consent: bool = Field(description="explicit consent to the policy in force")


class Notifications(SQLModel):
    notify: bool = Field(description="mail me when new photos of me arrive (at most one a while)")


class SelfieAccepted(SQLModel):
    selfie_id: uuid.UUID
    status: SelfieStatus
    status_url: str = "/api/me/selfie"


class LiveChallenge(SQLModel):
    """Take one frame per step, in order, and send them with the id before it expires."""

    challenge_id: str
    steps: list[str]
    """"straight", then "left" and "right" (the attendee's own) in a random order."""
    expires_at: datetime


class SelfiePublic(SQLModel):
    id: uuid.UUID
    status: SelfieStatus
    reason: str | None = None
    detail: str | None = None
    created_at: datetime


class SelfieState(SelfiePublic):
    """The latest selfie, and every selfie of the attendee, newest first."""

    selfies: list[SelfiePublic]


class FaceDataDeleted(SQLModel):
    """What `DELETE /api/me/face-data` removed."""

    selfies: int
    selfie_images: int
    """Selfie image files; 0 once judged unless FACEMATCH_KEEP_SELFIE_IMAGES is on."""
    encodings: int
    """Face encodings computed from the selfies."""
    matches: int
