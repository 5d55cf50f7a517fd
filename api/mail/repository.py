from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col, select

from core.models import Email


def owed_before(
    session: Session, cutoff: datetime, *, max_attempts: int, limit: int
) -> list[Email]:
    """Unsent mails created before `cutoff` with attempts left, oldest first."""
    return list(session.exec(
        select(Email)
        .where(col(Email.sent_at).is_(None), col(Email.created_at) < cutoff,
               col(Email.attempts) < max_attempts)
        .order_by(col(Email.created_at)).limit(limit)
    ).all())  # fmt: skip


def delete_created_before(session: Session, before: datetime) -> int:
    result = session.connection().execute(delete(Email).where(col(Email.created_at) < before))
    return int(result.rowcount)
