from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from api import ratelimit
from api.auth.deps import CurrentUser, RequireAdmin
from api.auth.security import verify_password
from api.deps import Cursor, RedisDep, SessionDep, SnapshotDep, StorageDep
from api.errors import (
    BadRequest,
    Conflict,
    NotFound,
    NotPermitted,
    TooManyRequests,
    Unauthorized,
    responses,
)
from api.users import service
from api.users.schemas import (
    AccountDeleted,
    AccountDeletion,
    DeletionConfirmation,
    DeletionMailed,
    PasswordResetRequest,
    ResetLink,
    UserActivation,
    UserCreate,
    UserPublic,
    UsersPublic,
)

router = APIRouter(tags=["users"])
_AUTH = (Unauthorized, NotPermitted)


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
        return service.mail_deletion_link(session, redis, user, body.locale)
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
    user = service.get_user(session, user_id)
    return service.delete_account(session, storage, user, f"admin:{admin.id}")


@router.patch(
    "/admin/users/{user_id}", responses=responses(Unauthorized, NotPermitted, NotFound, Conflict)
)
def update_user(
    session: SessionDep, _: RequireAdmin, user_id: uuid.UUID, body: UserActivation
) -> UserPublic:
    """Deactivate an account (it can no longer sign in, and its tokens stop working) or
    reactivate it."""
    return UserPublic.model_validate(service.set_active(session, service.get_user(session, user_id),
                                                       body.is_active))  # fmt: skip


@router.post(
    "/admin/users/{user_id}/reset-link",
    responses=responses(Unauthorized, NotPermitted, NotFound),
)
def create_reset_link(session: SessionDep, _: RequireAdmin, user_id: uuid.UUID) -> ResetLink:
    """A one-time link, valid a day, with which the account's owner sets a new password;
    the account's earlier links stop working."""
    return service.create_reset_link(session, service.get_user(session, user_id))


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


@router.post("/admin/users", status_code=201, responses=responses(*_AUTH, Conflict))
def create_user(session: SessionDep, _: RequireAdmin, body: UserCreate) -> UserPublic:
    """Create an account, typically a photographer's."""
    return UserPublic.model_validate(service.create_user(session, body))


@router.get("/admin/users", responses=responses(*_AUTH))
def list_users(
    session: SnapshotDep,
    _: RequireAdmin,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> UsersPublic:
    """Every account, newest first, a page at a time."""
    return service.list_users(session, cursor=cursor, limit=limit)


@router.get("/users/me", responses=responses(Unauthorized))
def read_user_me(user: CurrentUser) -> UserPublic:
    """The signed-in user."""
    return UserPublic.model_validate(user)
