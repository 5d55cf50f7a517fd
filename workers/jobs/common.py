"""What every domain's jobs share."""

from __future__ import annotations

from sqlmodel import Session

from core import audit
from core.models import AuditAction, Photo, Selfie


class RowGone(LookupError):
    """The row a job was enqueued for no longer exists (deleted meanwhile)."""


def audit_row(
    session: Session,
    action: AuditAction,
    row: Photo | Selfie,
    count: int = 1,
    reason: str | None = None,
) -> None:
    """An audit row about a photo's or a selfie's face data, written by a worker."""
    audit.record(session, action, event_id=row.event_id, subject_id=row.id, actor="worker",
                 count=count, reason=reason)  # fmt: skip
