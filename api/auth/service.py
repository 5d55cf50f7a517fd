from __future__ import annotations

import uuid
from datetime import timedelta

from sqlmodel import Session

from api.auth import repository
from api.auth.security import (
    TokenClaims,
    burn_verify_time,
    create_access_token,
    verify_password,
)
from api.errors import NotFound, NotPermitted, Unauthorized
from core.config import settings
from core.models import Attendee, AuthSession, Role, User, utcnow


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
    row = repository.get_session(session, session_id)
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)


def revoke_own_session(session: Session, user: User, session_id: uuid.UUID) -> None:
    """Sign out one browser of the user's own."""
    live = repository.get_live_session(session, session_id)
    if live is None or live.user_id != user.id:
        raise NotFound("no such session", code="session_not_found")
    revoke_session(session, session_id)


def list_live_sessions(session: Session, user_id: uuid.UUID) -> list[AuthSession]:
    return repository.list_live_sessions(session, user_id)


def revoke_all_sessions(session: Session, user_id: uuid.UUID) -> int:
    """Sign the user out everywhere (a new password, a deactivation); how many ended."""
    return repository.revoke_sessions_of(session, user_id)


def user_of_session(session: Session, user_id: uuid.UUID, session_id: uuid.UUID | None) -> User:
    """The active user of a session that has not ended (signed out, reset, expired)."""
    live = session_id and repository.get_live_session(session, session_id)
    if not live or live.user_id != user_id:
        raise Unauthorized("this session has ended: sign in again", code="session_ended")
    user = repository.get_user(session, user_id)
    if user is None or not user.is_active:
        raise Unauthorized("the token's user no longer exists", code="invalid_token")
    return user


def attendee_of_token(session: Session, attendee_id: uuid.UUID | None, user: User) -> Attendee:
    """The attendance a token was issued for, the user's own."""
    attendee = repository.get_attendee(session, attendee_id) if attendee_id else None
    if attendee is None or attendee.user_id != user.id:
        raise NotPermitted("this token is not an attendee's", code="attendee_required")
    return attendee


ENDED_SESSIONS_KEPT_DAYS = 7
"""A revoked or expired session's row is kept this long (which browser, when), then deleted."""


def purge_ended_sessions(session: Session) -> int:
    """Delete sessions that ended ENDED_SESSIONS_KEPT_DAYS ago (the reconciler's pass)."""
    return repository.delete_sessions_ended_before(
        session, utcnow() - timedelta(days=ENDED_SESSIONS_KEPT_DAYS)
    )
