"""Request dependencies. Tests swap them with `app.dependency_overrides`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query
from fastapi.security import OAuth2PasswordBearer
from redis import Redis
from sqlmodel import Session

from api.auth import repository as auth_repository
from api.auth.security import TokenClaims, decode_access_token
from api.errors import NotPermitted, Unauthorized
from core.db import session_scope
from core.models import Attendee, Role, User
from core.queue import JobQueue, get_job_queue
from core.redis import get_redis
from core.storage import Storage, get_storage

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)

QueueDep = Annotated[JobQueue, Depends(get_job_queue)]
Cursor = Annotated[
    str | None,
    Query(max_length=200, description="the previous page's `next_cursor`; none: the first page"),
]
"""Every list is paged by cursor (`core.db.newest_first`)."""
RedisDep = Annotated[Redis, Depends(get_redis)]
StorageDep = Annotated[Storage, Depends(get_storage)]


def get_session(jobs: QueueDep) -> Iterator[Session]:
    """Commits when the endpoint returns, rolls back on error, then enqueues what it deferred."""
    with session_scope(jobs) as session:
        yield session


# scope="function": commit before the response is sent, so a client never sees
# a 2xx for a transaction that then failed.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]
TokenDep = Annotated[str | None, Depends(oauth2_scheme)]


def get_claims(token: TokenDep) -> TokenClaims:
    if not token:
        raise Unauthorized("not authenticated", code="not_authenticated")
    return decode_access_token(token)


Claims = Annotated[TokenClaims, Depends(get_claims)]


def get_current_user(session: SessionDep, claims: Claims) -> User:
    return user_of_session(session, claims.user_id, claims.session_id)


def user_of_session(session: Session, user_id: uuid.UUID, session_id: uuid.UUID | None) -> User:
    """The active user of a session that has not ended (signed out, reset, expired)."""
    live = session_id and auth_repository.get_live_session(session, session_id)
    if not live or live.user_id != user_id:
        raise Unauthorized("this session has ended: sign in again", code="session_ended")
    user = auth_repository.get_user(session, user_id)
    if user is None or not user.is_active:
        raise Unauthorized("the token's user no longer exists", code="invalid_token")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


def require_photographer(user: CurrentUser) -> User:
    if user.role not in (Role.photographer, Role.admin):
        raise NotPermitted("photographers and admins only", code="role_required")
    return user


def require_admin(user: CurrentUser) -> User:
    if user.role != Role.admin:
        raise NotPermitted("admins only", code="role_required")
    return user


RequirePhotographer = Annotated[User, Depends(require_photographer)]
RequireAdmin = Annotated[User, Depends(require_admin)]


def get_current_attendee(session: SessionDep, claims: Claims, user: CurrentUser) -> Attendee:
    attendee = session.get(Attendee, claims.attendee_id) if claims.attendee_id else None
    if attendee is None or attendee.user_id != user.id:
        raise NotPermitted("this token is not an attendee's", code="attendee_required")
    return attendee


CurrentAttendee = Annotated[Attendee, Depends(get_current_attendee)]
