"""An event's webhook. The URL is checked when it is saved (https, no credentials in it,
not an address inside the platform) and again, on what it resolves to, at every delivery
(workers/jobs/webhooks.py)."""

from __future__ import annotations

import ipaddress
import json
import uuid
from typing import Literal
from urllib.parse import urlsplit

from sqlmodel import Session

from api.errors import BadRequest
from api.events import service as events
from api.webhooks import repository
from api.webhooks.schemas import (
    DeliveryPublic,
    DeliveryQueued,
    EmailSharingState,
    WebhookPublic,
    WebhookUpdate,
)
from core import queue
from core.config import settings
from core.db import defer
from core.models import Attendee, Event, WebhookDelivery
from core.webhooks import attendee_ref, body, new_secret

LOG_SIZE = 50


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    local = bool(settings.WEBHOOK_PRIVATE_ADDRESSES)
    if parts.scheme != "https" and not (local and parts.scheme == "http"):
        raise BadRequest("a webhook URL starts with https://", code="webhook_url_not_https")
    if not parts.hostname or parts.username or parts.password or parts.fragment:
        raise BadRequest("a webhook URL names a host, with no user, password or #fragment",
                         code="bad_webhook_url")  # fmt: skip
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        literal = None
    if literal is not None and not literal.is_global and not local:
        raise BadRequest("a webhook URL must reach a public address",
                         code="webhook_url_not_public")  # fmt: skip
    if not local and parts.hostname.lower() in ("localhost", "localhost.localdomain"):
        raise BadRequest("a webhook URL must reach a public address",
                         code="webhook_url_not_public")  # fmt: skip
    return parts.geturl()


def read_webhook(session: Session, event: Event) -> WebhookPublic:
    deliveries = repository.latest_deliveries(session, event.id, LOG_SIZE)
    return WebhookPublic(url=event.webhook_url, secret=event.webhook_secret,
                         deliveries=[_public(d) for d in deliveries])  # fmt: skip


def _public(delivery: WebhookDelivery) -> DeliveryPublic:
    state: Literal["pending", "delivered", "failed"] = "pending"
    if delivery.delivered_at:
        state = "delivered"
    elif delivery.failed_at:
        state = "failed"
    return DeliveryPublic(
        id=delivery.id, kind=delivery.kind, state=state, created_at=delivery.created_at,
        attempts=delivery.attempts, delivered_at=delivery.delivered_at,
        next_attempt_at=delivery.next_attempt_at if state == "pending" else None,
        last_status=delivery.last_status, last_error=delivery.last_error,
    )  # fmt: skip


def set_webhook(session: Session, event: Event, body_in: WebhookUpdate) -> WebhookPublic:
    """Point the webhook at a URL; a secret is made the first time (rotate it apart)."""
    events.refuse_if_deleting(event)
    event.webhook_url = check_url(body_in.url)
    event.webhook_secret = event.webhook_secret or new_secret()
    session.add(event)
    return read_webhook(session, event)


def rotate_secret(session: Session, event: Event) -> WebhookPublic:
    """A new secret at once: deliveries still owed are signed with it when they go."""
    if event.webhook_url is None:
        raise BadRequest("this event has no webhook", code="no_webhook")
    event.webhook_secret = new_secret()
    session.add(event)
    return read_webhook(session, event)


def delete_webhook(session: Session, event: Event) -> None:
    """No more deliveries: the URL, the secret and the log go, owed deliveries too."""
    event.webhook_url = event.webhook_secret = None
    session.add(event)
    repository.delete_deliveries(session, event.id)


def send_test(session: Session, event: Event) -> DeliveryQueued:
    """A `ping` delivery, signed and logged as any other."""
    if event.webhook_url is None:
        raise BadRequest("this event has no webhook", code="no_webhook")
    data = {"event_id": str(event.id), "event_code": event.code}
    delivery = WebhookDelivery(event_id=event.id, kind="ping", body=body("ping", data))
    repository.add_delivery(session, delivery)
    defer(session, queue.deliver_webhooks(event.id))
    return DeliveryQueued(id=delivery.id, status_url=f"/api/events/{event.id}/webhook")


def email_sharing(session: Session, attendee: Attendee) -> EmailSharingState:
    event = events.get_event(session, attendee.event_id)
    return EmailSharingState(share_email=attendee.share_email,
                             organiser_webhook=bool(event and event.webhook_url))  # fmt: skip


def set_email_sharing(session: Session, attendee: Attendee, share: bool) -> EmailSharingState:
    """From now on; turned off, the deliveries still owed lose the email too. Deliveries
    already made keep what they said."""
    if attendee.share_email and not share:
        withdraw(session, attendee.event_id, attendee.id, email_only=True)
    attendee.share_email = share
    session.add(attendee)
    return email_sharing(session, attendee)


def withdraw(
    session: Session, event_id: uuid.UUID, attendee_id: uuid.UUID, *, email_only: bool = False
) -> int:
    """Take an attendee out of the event's `match.created` deliveries still owed (their
    face data is deleted: the matches those tell of are gone), or only their email (they
    stopped sharing it). A delivery left naming nobody is dropped. How many changed."""
    ref = attendee_ref(event_id, attendee_id)
    owed = repository.owed_naming(session, event_id, ref)
    for delivery in owed:
        posted = json.loads(delivery.body)
        named = posted["data"]["attendees"]
        if email_only:
            for entry in named:
                if entry["id"] == ref:
                    entry.pop("email", None)
        else:
            named[:] = [entry for entry in named if entry["id"] != ref]
        if not named:
            repository.delete_delivery(session, delivery)
            continue
        delivery.body = json.dumps(posted, separators=(",", ":"))
        session.add(delivery)
    return len(owed)
