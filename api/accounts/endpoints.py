from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from sqlmodel import Session

from api import ratelimit
from api.accounts import service
from api.accounts.schemas import (
    AccountDeleted,
    AccountDeletion,
    PasswordResetRequest,
    ResetLink,
    UserActivation,
)
from api.auth import repository as auth_repository
from api.auth.schemas import UserPublic
from api.auth.security import verify_password
from api.deps import CurrentUser, RedisDep, RequireAdmin, SessionDep, StorageDep
from api.errors import (
    BadRequest,
    Conflict,
    NotFound,
    NotPermitted,
    TooManyRequests,
    Unauthorized,
    responses,
)
from api.models import User

router = APIRouter(tags=["accounts"])


@router.delete("/users/me", responses=responses(BadRequest, Unauthorized, Conflict))
def delete_my_account(
    session: SessionDep, storage: StorageDep, user: CurrentUser, body: AccountDeletion
) -> AccountDeleted:
    """Delete your account, with every event registration, selfie, encoding and match;
    your password again (an attendee: your email) confirms it. Staff who own events delete
    them first."""
    if user.hashed_password is None:
        if (body.email or "").strip().lower() != user.email:
            raise BadRequest("type this account's email to confirm", code="confirmation_mismatch")
    elif not body.password or not verify_password(body.password, user.hashed_password):
        raise Unauthorized("the password is not this account's", code="bad_credentials")
    return service.delete_account(session, storage, user, f"{user.role.value}:{user.id}")


@router.delete(
    "/admin/users/{user_id}", responses=responses(Unauthorized, NotPermitted, NotFound, Conflict)
)
def delete_user(
    session: SessionDep, storage: StorageDep, admin: RequireAdmin, user_id: uuid.UUID
) -> AccountDeleted:
    """Delete an account as its owner could (a photographer's only once their events are gone)."""
    user = _user(session, user_id)
    return service.delete_account(session, storage, user, f"admin:{admin.id}")


@router.patch(
    "/admin/users/{user_id}", responses=responses(Unauthorized, NotPermitted, NotFound, Conflict)
)
def update_user(
    session: SessionDep, _: RequireAdmin, user_id: uuid.UUID, body: UserActivation
) -> UserPublic:
    """Deactivate an account (it can no longer sign in, and its tokens stop working) or
    reactivate it."""
    return UserPublic.model_validate(service.set_active(session, _user(session, user_id),
                                                       body.is_active))  # fmt: skip


def _user(session: Session, user_id: uuid.UUID) -> User:
    user = auth_repository.get_user(session, user_id)
    if user is None:
        raise NotFound("no such user", code="user_not_found")
    return user


@router.post(
    "/admin/users/{user_id}/reset-link",
    responses=responses(Unauthorized, NotPermitted, NotFound),
)
def create_reset_link(session: SessionDep, _: RequireAdmin, user_id: uuid.UUID) -> ResetLink:
    """A one-time link, valid a day, with which the account's owner sets a new password;
    the account's earlier links stop working."""
    return service.create_reset_link(session, _user(session, user_id))


@router.post(
    "/auth/reset-password",
    status_code=204,
    responses=responses(BadRequest, TooManyRequests),
)
def reset_password(
    session: SessionDep, redis: RedisDep, request: Request, body: PasswordResetRequest
) -> Response:
    """Set a new password with a reset link's token (rate-limited as sign-in is)."""
    ratelimit.check_login(redis, request, "password-reset")
    service.reset_password(session, body.token, body.password)
    return Response(status_code=204)
