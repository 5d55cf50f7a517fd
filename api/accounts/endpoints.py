from __future__ import annotations

import uuid

from fastapi import APIRouter, Request, Response
from sqlmodel import Session

from api import ratelimit
from api.accounts import service
from api.accounts.schemas import (
    AccountDeleted,
    AccountDeletion,
    DeletionConfirmation,
    DeletionMailed,
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
from core.models import User

router = APIRouter(tags=["accounts"])


@router.delete(
    "/users/me",
    responses={202: {"model": DeletionMailed, "description": "an attendee: the link is mailed"},
               **responses(BadRequest, Unauthorized, Conflict, TooManyRequests)},
)  # fmt: skip
def delete_my_account(
    session: SessionDep, storage: StorageDep, redis: RedisDep, request: Request,
    response: Response, user: CurrentUser, body: AccountDeletion,
) -> AccountDeleted | DeletionMailed:  # fmt: skip
    """Delete your account, with every event registration, selfie, encoding and match.
    Staff give their password again (rate-limited as sign-in is). An attendee types the
    account's email, and the deletion waits for a link mailed there (202): a stolen session
    is not the mailbox. Staff who own events delete them first."""
    if user.hashed_password is None:
        ratelimit.check_sign_in_link(redis, request, user.email)
        if (body.email or "").strip().lower() != user.email:
            raise BadRequest("type this account's email to confirm", code="confirmation_mismatch")
        response.status_code = 202
        return service.mail_deletion_link(session, redis, user)
    ratelimit.check_login(redis, request, user.email)
    if not body.password or not verify_password(body.password, user.hashed_password):
        raise Unauthorized("the password is not this account's", code="bad_credentials")
    return service.delete_account(session, storage, user, f"{user.role.value}:{user.id}")


@router.post("/account-deletions", responses=responses(BadRequest, Conflict, TooManyRequests))
def confirm_account_deletion(
    session: SessionDep, storage: StorageDep, redis: RedisDep, request: Request,
    body: DeletionConfirmation,
) -> AccountDeleted:  # fmt: skip
    """Spend a mailed deletion link: the account goes, with everything of it."""
    ratelimit.check_link_redemption(redis, request)
    return service.delete_by_link(session, storage, redis, body.token)


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
    ratelimit.check_password_reset(redis, request, body.token)
    service.reset_password(session, body.token, body.password)
    return Response(status_code=204)
