from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete
from sqlmodel import Session, col, select

from core.models import SignInLink, SignInLinkPurpose


def link_by_digest(session: Session, digest: str) -> SignInLink | None:
    """The link whose token hashes to `digest`, locked for its redemption."""
    return session.exec(
        select(SignInLink).where(SignInLink.token_sha256 == digest).with_for_update()
    ).first()


def latest_join_request(session: Session, email: str, event_id: uuid.UUID) -> SignInLink | None:
    """The address's latest request to join the event (its join link)."""
    return session.exec(
        select(SignInLink)
        .where(SignInLink.email == email, SignInLink.event_id == event_id,
               SignInLink.purpose == SignInLinkPurpose.joining)
        .order_by(col(SignInLink.created_at).desc()).limit(1)
    ).first()  # fmt: skip


def delete_expired_before(session: Session, before: datetime) -> int:
    result = session.connection().execute(
        delete(SignInLink).where(col(SignInLink.expires_at) < before)
    )
    return int(result.rowcount)
