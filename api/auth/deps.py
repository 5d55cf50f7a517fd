"""Who is calling: the bearer token's claims, its live session's user, and the roles a
route requires. Endpoints declare these; the checks are auth's service."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import OAuth2PasswordBearer

from api.auth import service
from api.auth.security import TokenClaims, decode_access_token
from api.deps import SessionDep
from api.errors import NotPermitted, Unauthorized
from core.models import Attendee, Role, User

oauth2_scheme = OAuth2PasswordBearer(tokenUrl="/api/auth/token", auto_error=False)
TokenDep = Annotated[str | None, Depends(oauth2_scheme)]


def get_claims(token: TokenDep) -> TokenClaims:
    if not token:
        raise Unauthorized("not authenticated", code="not_authenticated")
    return decode_access_token(token)


Claims = Annotated[TokenClaims, Depends(get_claims)]


def get_current_user(session: SessionDep, claims: Claims) -> User:
    return service.user_of_session(session, claims.user_id, claims.session_id)


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
    return service.attendee_of_token(session, claims.attendee_id, user)


CurrentAttendee = Annotated[Attendee, Depends(get_current_attendee)]
