from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import delete, update
from sqlmodel import Session, col, select

from core.models import Attendee, AuthSession, User, utcnow


def get_user(session: Session, user_id: uuid.UUID) -> User | None:
    return session.get(User, user_id)


def get_session(session: Session, session_id: uuid.UUID) -> AuthSession | None:
    return session.get(AuthSession, session_id)


def get_attendee(session: Session, attendee_id: uuid.UUID) -> Attendee | None:
    return session.get(Attendee, attendee_id)


def revoke_sessions_of(session: Session, user_id: uuid.UUID) -> int:
    result = session.connection().execute(
        update(AuthSession)
        .where(col(AuthSession.user_id) == user_id, col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount)


def delete_sessions_ended_before(session: Session, before: datetime) -> int:
    result = session.connection().execute(
        delete(AuthSession).where(
            (col(AuthSession.expires_at) < before) | (col(AuthSession.revoked_at) < before)
        )
    )
    return int(result.rowcount)


def get_live_session(session: Session, session_id: uuid.UUID) -> AuthSession | None:
    """The session if it is neither revoked nor expired."""
    row = session.get(AuthSession, session_id)
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    return row


def get_user_by_email(session: Session, email: str) -> User | None:
    return session.exec(select(User).where(User.email == email.lower())).first()


def latest_attendee(session: Session, user_id: uuid.UUID) -> Attendee | None:
    return session.exec(
        select(Attendee)
        .where(Attendee.user_id == user_id)
        .order_by(col(Attendee.created_at).desc())
        .limit(1)
    ).first()


def list_live_sessions(session: Session, user_id: uuid.UUID) -> list[AuthSession]:
    return list(session.exec(
        select(AuthSession)
        .where(AuthSession.user_id == user_id, col(AuthSession.revoked_at).is_(None),
               col(AuthSession.expires_at) > utcnow())
        .order_by(col(AuthSession.created_at).desc())
        .limit(100)
    ).all())  # fmt: skip
