"""The audit log of biometric data: one row per creation or deletion, never the data."""

from __future__ import annotations

import uuid

from sqlmodel import Session

from core.models import AuditAction, AuditEntry


def record(
    session: Session,
    action: AuditAction,
    *,
    event_id: uuid.UUID | None,
    subject_id: uuid.UUID | None,
    actor: str,
    count: int = 1,
    reason: str | None = None,
) -> None:
    """Add an audit row to the transaction; nothing when `count` is 0."""
    if count:
        session.add(
            AuditEntry(
                action=action,
                event_id=event_id,
                subject_id=subject_id,
                count=count,
                actor=actor,
                reason=reason,
            )
        )
