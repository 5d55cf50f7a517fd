from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from api import ratelimit
from api.auth import service
from api.auth.deps import Claims, CurrentUser
from api.auth.schemas import SessionPublic, SignedOut, Token
from api.deps import RedisDep, SessionDep
from api.errors import NotFound, TooManyRequests, Unauthorized, responses

router = APIRouter(tags=["auth"])


@router.post("/auth/token", responses=responses(Unauthorized, TooManyRequests))
def login_access_token(
    session: SessionDep,
    redis: RedisDep,
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> Token:
    """Exchange an email and password for a bearer token (rate-limited per account and address)."""
    ratelimit.check_login(redis, request, form.username)
    user_agent = request.headers.get("user-agent")
    return Token(access_token=service.login(session, form.username, form.password, user_agent))


@router.post("/auth/sign-out", responses=responses(Unauthorized))
def sign_out(
    session: SessionDep, user: CurrentUser, claims: Claims, everywhere: bool = False
) -> SignedOut:
    """End this session (its token is refused from now on), or every session of the account."""
    if everywhere:
        return SignedOut(sessions_ended=service.revoke_all_sessions(session, user.id))
    assert claims.session_id is not None  # CurrentUser refuses a token without one
    service.revoke_session(session, claims.session_id)
    return SignedOut(sessions_ended=1)


@router.get("/me/sessions", responses=responses(Unauthorized))
def list_my_sessions(session: SessionDep, user: CurrentUser, claims: Claims) -> list[SessionPublic]:
    """The browsers signed in to this account, newest first."""
    return [
        SessionPublic.model_validate(row, update={"current": row.id == claims.session_id})
        for row in service.list_live_sessions(session, user.id)
    ]


@router.delete("/me/sessions/{session_id}", status_code=204,
               responses=responses(Unauthorized, NotFound))  # fmt: skip
def revoke_my_session(session: SessionDep, user: CurrentUser, session_id: uuid.UUID) -> None:
    """Sign out one browser of this account."""
    service.revoke_own_session(session, user, session_id)
