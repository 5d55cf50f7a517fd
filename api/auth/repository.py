from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from api.pages import count_rows, newest_first
from core.models import Attendee, AuthSession, User, utcnow


def get_user(session: Session, user_id: uuid.UUID) -> User | None:
    return session.get(User, user_id)


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


def list_users(
    session: Session, *, cursor: str | None, limit: int
) -> tuple[list[User], str | None, int]:
    users, next_cursor = newest_first(
        session, select(User), col(User.created_at), col(User.id), cursor=cursor, limit=limit
    )
    return users, next_cursor, count_rows(session, User)


def list_live_sessions(session: Session, user_id: uuid.UUID) -> list[AuthSession]:
    return list(session.exec(
        select(AuthSession)
        .where(AuthSession.user_id == user_id, col(AuthSession.revoked_at).is_(None),
               col(AuthSession.expires_at) > utcnow())
        .order_by(col(AuthSession.created_at).desc())
        .limit(100)
    ).all())  # fmt: skip
