from __future__ import annotations

import uuid

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
