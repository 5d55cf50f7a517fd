from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import Field, SQLModel

from api.i18n import Language
from core.models import SelfieStatus


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


class MyLocale(SQLModel):
    locale: Language
    """The language of your pages and of your mails about this event."""
