from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import delete, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col

from api.auth import repository
from api.auth.schemas import UserCreate
from api.auth.security import (
    TokenClaims,
    burn_verify_time,
    create_access_token,
    hash_password,
    verify_password,
)
from api.errors import Conflict, Unauthorized
from core.config import settings
from core.models import AuthSession, Role, User, utcnow


def authenticate(session: Session, email: str, password: str) -> User:
    user = repository.get_user_by_email(session, email)
    if user is None:
        burn_verify_time(password)
        raise Unauthorized("incorrect email or password", code="bad_credentials")
    if user.hashed_password is None:  # an attendee: signs in by mailed links
        burn_verify_time(password)
        raise Unauthorized("incorrect email or password", code="bad_credentials")
    if not verify_password(password, user.hashed_password) or not user.is_active:
        raise Unauthorized("incorrect email or password", code="bad_credentials")
    return user


def login(session: Session, email: str, password: str, user_agent: str | None = None) -> str:
    user = authenticate(session, email, password)
    attendee = repository.latest_attendee(session, user.id) if user.role == Role.attendee else None
    return start_session(session, user, attendee.id if attendee else None, user_agent)


def start_session(
    session: Session, user: User, attendee_id: uuid.UUID | None, user_agent: str | None = None
) -> str:
    """A new revocable session for one browser, and its access token."""
    row = AuthSession(
        user_id=user.id,
        expires_at=utcnow() + timedelta(minutes=settings.ACCESS_TOKEN_MINUTES),
        user_agent=(user_agent or "")[:200] or None,
    )
    session.add(row)
    return create_access_token(
        TokenClaims(user.id, user.role, attendee_id, row.id), expires=row.expires_at
    )


def revoke_session(session: Session, session_id: uuid.UUID) -> None:
    row = session.get(AuthSession, session_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)


def revoke_all_sessions(session: Session, user_id: uuid.UUID) -> int:
    """Sign the user out everywhere (a new password, a deactivation); how many ended."""
    result = session.connection().execute(
        update(AuthSession)
        .where(col(AuthSession.user_id) == user_id, col(AuthSession.revoked_at).is_(None))
        .values(revoked_at=utcnow())
    )
    return int(result.rowcount)


def create_user(session: Session, data: UserCreate) -> User:
    email = data.email.lower()
    if repository.get_user_by_email(session, email):
        raise Conflict("a user with this email already exists", code="email_taken")
    user = User(
        email=email,
        full_name=data.full_name,
        role=data.role,
        hashed_password=hash_password(data.password),
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        raise Conflict("a user with this email already exists", code="email_taken") from None
    return user


ENDED_SESSIONS_KEPT_DAYS = 7
"""A revoked or expired session's row is kept this long (which browser, when), then deleted."""


def purge_ended_sessions(session: Session) -> int:
    """Delete sessions that ended ENDED_SESSIONS_KEPT_DAYS ago (the reconciler's pass)."""
    before = utcnow() - timedelta(days=ENDED_SESSIONS_KEPT_DAYS)
    result = session.connection().execute(
        delete(AuthSession).where(
            (col(AuthSession.expires_at) < before) | (col(AuthSession.revoked_at) < before)
        )
    )
    return int(result.rowcount)
