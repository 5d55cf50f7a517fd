"""Webhook signatures, as Standard Webhooks (standardwebhooks.com) defines them.

Each delivery carries three headers:

    webhook-id:        the delivery's id (the same on every retry: a receiver drops repeats)
    webhook-timestamp: seconds since the epoch when this attempt was signed
    webhook-signature: "v1," + base64(HMAC-SHA256(secret, f"{id}.{timestamp}.{body}"))

The secret is "whsec_" + base64 of 32 random bytes; the key is the decoded bytes. A
receiver recomputes the signature over the raw body and refuses a timestamp more than
TOLERANCE_SECONDS from its clock: a delivery captured on the way cannot be replayed
later. `verify` is that check, as a receiver would write it (the tests use it, and the
README shows it to organisers).

Who is in a photo is said by `attendee_ref`: an id stable within one event, which names
no one and links no two events, unless the attendee agreed to share their email.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from core.config import settings

SECRET_PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60
"""How far a delivery's timestamp may be from the receiver's clock."""
RETRY_SECONDS = (30, 120, 600, 1800, 7200, 21600)
"""The wait before each new attempt of a failed delivery (about 9 hours in all); after the
last, the delivery is given up and the studio's log says so."""
MAX_ATTEMPTS = len(RETRY_SECONDS) + 1


def body(kind: str, data: dict[str, Any], at: datetime | None = None) -> str:
    """The JSON posted: Standard Webhooks' shape (type, timestamp, data)."""
    moment = (at or datetime.now(UTC)).isoformat().replace("+00:00", "Z")
    return json.dumps({"type": kind, "timestamp": moment, "data": data}, separators=(",", ":"))


class SignatureRefused(ValueError):
    """A delivery a receiver must not trust: its reason says why."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def signature(secret: str, delivery_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{delivery_id}.{timestamp}.".encode() + body
    digest = hmac.new(_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signed_headers(secret: str, delivery_id: str, body: bytes, now: float | None = None
                   ) -> dict[str, str]:  # fmt: skip
    timestamp = int(time.time() if now is None else now)
    return {
        "webhook-id": delivery_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, delivery_id, timestamp, body),
        "content-type": "application/json",
        "user-agent": "facematch-webhooks/1",
    }


def verify(secret: str, headers: Mapping[str, str], body: bytes, now: float | None = None
           ) -> str:  # fmt: skip
    """The delivery's id, if `headers` sign `body` with `secret` within the tolerance;
    else a `SignatureRefused`. A receiver also keeps the ids it has seen a while, and drops
    a repeat (a retry after a lost answer is the same delivery)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    try:
        delivery_id = lowered["webhook-id"]
        timestamp = int(lowered["webhook-timestamp"])
        offered = lowered["webhook-signature"].split()
    except (KeyError, ValueError):
        raise SignatureRefused("missing or malformed webhook headers") from None
    if abs((time.time() if now is None else now) - timestamp) > TOLERANCE_SECONDS:
        raise SignatureRefused("the timestamp is too old or too new: a replay?")
    expected = signature(secret, delivery_id, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise SignatureRefused("the signature does not match the body")
    return delivery_id


def attendee_ref(event_id: uuid.UUID, attendee_id: uuid.UUID) -> str:
    """The attendee as the event's organiser knows them: stable within the event, and
    unlinkable to their other events or to our ids without the platform's secret key."""
    message = f"webhook-attendee:{event_id}:{attendee_id}".encode()
    digest = hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()
    return f"att_{digest[:24]}"
