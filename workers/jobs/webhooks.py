"""Post an event's webhook deliveries: signed, in order, each its own transaction.

The outbox row says what is owed (core.models.WebhookDelivery). A 2xx answer delivers
it; anything else (an error status, a timeout, a refused connection, an address the
platform may not reach) counts an attempt, and the row waits RETRY_SECONDS before the
next one, until MAX_ATTEMPTS: then it is given up, and the studio's log says why. The
reconciler re-enqueues this job for an event whose deliveries are due, so a lost job or
a worker killed mid-post loses nothing (a receiver may see a delivery twice, with one
webhook-id: Standard Webhooks asks it to drop the repeat).

Where the URL points is checked at every attempt, on the address it resolves to then
(DNS can change after the URL was saved): outside local mode, only public addresses
over https, with no redirect followed.
"""

from __future__ import annotations

import http.client
import ipaddress
import logging
import socket
import ssl
import time
import uuid
from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import col, select

from core.config import settings
from core.db import session_scope
from core.models import Event, WebhookDelivery, utcnow
from core.webhooks import MAX_ATTEMPTS, RETRY_SECONDS, signed_headers

log = logging.getLogger(__name__)

BATCH = 200
"""Deliveries read at a time."""
RUN_SECONDS = 480
"""How long one run posts before it ends (its job's timeout is 600 s)."""


class Unreachable(Exception):
    """The URL may not be posted to, or could not be."""


def _address(host: str, port: int) -> str:
    """The IP to connect to: the first the host resolves to, if the platform may reach it."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise Unreachable(f"cannot resolve {host}: {error}") from None
    for *_, sockaddr in infos:
        ip = ipaddress.ip_address(sockaddr[0])
        if settings.WEBHOOK_PRIVATE_ADDRESSES or ip.is_global:
            return str(ip)
    raise Unreachable(f"{host} resolves to an address that is not public")


class _Pinned(http.client.HTTPSConnection):
    """HTTPS to the checked address, with the URL's host for SNI and the certificate."""

    def __init__(self, host: str, ip: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.ip = ip

    def connect(self) -> None:
        sock = socket.create_connection((self.ip, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)  # type: ignore[attr-defined]


class _PinnedPlain(http.client.HTTPConnection):
    def __init__(self, host: str, ip: str, port: int, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.ip = ip

    def connect(self) -> None:
        self.sock = socket.create_connection((self.ip, self.port), self.timeout)


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    """The receiver's HTTP status (a redirect is an answer, not followed)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise Unreachable(f"not an http(s) URL: {url}")
    if parts.scheme == "http" and not settings.WEBHOOK_PRIVATE_ADDRESSES:
        raise Unreachable("plain http is refused outside local mode")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    ip = _address(parts.hostname, port)
    kind = _Pinned if parts.scheme == "https" else _PinnedPlain
    connection = kind(parts.hostname, ip, port, settings.WEBHOOK_TIMEOUT_SECONDS)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(64 * 1024)
        return response.status
    except (OSError, http.client.HTTPException) as error:
        raise Unreachable(f"{type(error).__name__}: {error}") from None
    finally:
        connection.close()


def _attempt(delivery_id: uuid.UUID) -> str:
    """Post one owed delivery, its row locked meanwhile; what happened."""
    with session_scope() as session:
        delivery = session.exec(
            select(WebhookDelivery)
            .where(col(WebhookDelivery.id) == delivery_id)
            .with_for_update(skip_locked=True)
        ).first()
        if delivery is None or delivery.delivered_at or delivery.failed_at:
            return "gone"
        event = session.get(Event, delivery.event_id)
        if event is None or not event.webhook_url or not event.webhook_secret:
            session.delete(delivery)  # the webhook was removed: nothing is owed any more
            return "dropped"
        data = delivery.body.encode()
        delivery.attempts += 1
        headers = signed_headers(event.webhook_secret, str(delivery.id), data)
        try:
            status: int | None = post(event.webhook_url, data, headers)
            error = None if 200 <= (status or 0) < 300 else f"HTTP {status}"
        except Unreachable as unreachable:
            status, error = None, str(unreachable)[:500]
        delivery.last_status, delivery.last_error = status, error
        if error is None:
            delivery.delivered_at, delivery.body = utcnow(), ""  # the log keeps no emails
            outcome = "delivered"
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.failed_at, delivery.body = utcnow(), ""
            outcome = "given_up"
        else:
            wait = RETRY_SECONDS[delivery.attempts - 1]
            delivery.next_attempt_at = utcnow() + timedelta(seconds=wait)
            outcome = "retry_later"
        session.add(delivery)
    return outcome


def _due(event_id: uuid.UUID) -> list[uuid.UUID]:
    with session_scope() as session:
        return list(
            session.exec(
                select(WebhookDelivery.id)
                .where(
                    col(WebhookDelivery.event_id) == event_id,
                    col(WebhookDelivery.delivered_at).is_(None),
                    col(WebhookDelivery.failed_at).is_(None),
                    col(WebhookDelivery.next_attempt_at) <= utcnow(),
                )
                .order_by(col(WebhookDelivery.created_at))
                .limit(BATCH)
            ).all()
        )


def deliver_webhooks(event_id: str) -> dict[str, Any]:
    """The event's due deliveries, oldest first, BATCH at a time until none is due or the
    run has taken RUN_SECONDS (a rematch of a big event owes thousands); the reconciler's
    next pass enqueues the rest."""
    eid = uuid.UUID(event_id)
    started = time.monotonic()
    outcomes: dict[str, int] = {}
    while time.monotonic() - started < RUN_SECONDS and (due := _due(eid)):
        moved = 0
        for delivery_id in due:
            outcome = _attempt(delivery_id)
            outcomes[outcome] = outcomes.get(outcome, 0) + 1
            moved += outcome != "gone"
        if len(due) < BATCH or not moved:  # the rest is another run's, or done
            break
    if outcomes.get("retry_later") or outcomes.get("given_up"):
        log.warning("webhook deliveries of event %s: %s", event_id, outcomes)
    return {"event_id": event_id, **outcomes}
