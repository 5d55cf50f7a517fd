from __future__ import annotations

import uuid

from sqlalchemy import func
from sqlmodel import Session, col, delete, select

from core.models import WebhookDelivery


def latest_deliveries(session: Session, event_id: uuid.UUID, limit: int) -> list[WebhookDelivery]:
    query = (
        select(WebhookDelivery)
        .where(col(WebhookDelivery.event_id) == event_id)
        .order_by(col(WebhookDelivery.created_at).desc(), col(WebhookDelivery.id))
        .limit(limit)
    )
    return list(session.exec(query).all())


def delete_deliveries(session: Session, event_id: uuid.UUID) -> None:
    session.exec(delete(WebhookDelivery).where(col(WebhookDelivery.event_id) == event_id))


def add_delivery(session: Session, delivery: WebhookDelivery) -> None:
    session.add(delivery)


def owed_naming(session: Session, event_id: uuid.UUID, ref: str) -> list[WebhookDelivery]:
    """The event's `match.created` deliveries still owed whose body names `ref`, locked: one
    being posted is waited for (a receiver's timeout at most)."""
    query = (
        select(WebhookDelivery)
        .where(
            col(WebhookDelivery.event_id) == event_id,
            col(WebhookDelivery.kind) == "match.created",
            col(WebhookDelivery.delivered_at).is_(None),
            col(WebhookDelivery.failed_at).is_(None),
            func.strpos(col(WebhookDelivery.body), ref) > 0,
        )
        .with_for_update()
    )
    return list(session.exec(query).all())


def delete_delivery(session: Session, delivery: WebhookDelivery) -> None:
    session.delete(delivery)
