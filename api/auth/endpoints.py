from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordRequestForm

from api import ratelimit
from api.auth import service
from api.auth.schemas import Token, UserPublic
from api.deps import CurrentUser, RedisDep, SessionDep
from api.errors import TooManyRequests, Unauthorized, responses

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
    return Token(access_token=service.login(session, form.username, form.password))


@router.get("/users/me", responses=responses(Unauthorized))
def read_user_me(user: CurrentUser) -> UserPublic:
    """The signed-in user."""
    return UserPublic.model_validate(user)
