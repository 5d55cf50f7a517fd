from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from api.auth import service
from api.auth.schemas import Token, UserPublic
from api.deps import CurrentUser, SessionDep
from api.errors import Unauthorized, responses

router = APIRouter(tags=["auth"])


@router.post("/auth/token", responses=responses(Unauthorized))
def login_access_token(
    session: SessionDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> Token:
    """Exchange an email and password for a bearer token."""
    return Token(access_token=service.login(session, form.username, form.password))


@router.get("/users/me", responses=responses(Unauthorized))
def read_user_me(user: CurrentUser) -> UserPublic:
    """The signed-in user."""
    return UserPublic.model_validate(user)
