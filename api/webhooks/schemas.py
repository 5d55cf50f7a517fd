from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from sqlmodel import Field, SQLModel


class WebhookUpdate(SQLModel):
    url: str = Field(min_length=8, max_length=2000)
    """Where deliveries are posted: https, on a public address."""


class DeliveryPublic(SQLModel):
    id: uuid.UUID
    """Its `webhook-id` header: the same on every attempt."""
    kind: str
    state: Literal["pending", "delivered", "failed"]
    created_at: datetime
    attempts: int
    next_attempt_at: datetime | None = None
    """When a pending delivery is tried again."""
    delivered_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = None


class WebhookPublic(SQLModel):
    url: str | None = None
    secret: str | None = None
    """Verify each delivery's `webhook-signature` with it (Standard Webhooks)."""
    events: list[str] = ["photo.indexed", "match.created"]
    deliveries: list[DeliveryPublic] = []
    """The latest 50, newest first."""


class DeliveryQueued(SQLModel):
    id: uuid.UUID
    status_url: str
    """The webhook, whose log shows the delivery."""


class EmailSharing(SQLModel):
    share_email: bool
    """The event's organiser learns your email with the photos you are found in."""


class EmailSharingState(EmailSharing):
    organiser_webhook: bool = False
    """Whether this event tells its organiser anything (it has a webhook)."""
