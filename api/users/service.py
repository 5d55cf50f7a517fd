"""Users: accounts made by an admin (staff) or by joining an event (attendees), the admin's
list of them, password resets, and the end of an account: an attendee's whole data goes
with theirs; staff accounts only once nothing depends on them."""

from __future__ import annotations

import uuid
from datetime import timedelta

from redis import Redis
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.attendees.service import delete_face_data_of
from api.auth import repository as auth_repository
from api.auth.security import hash_password, new_link_token, token_digest
from api.auth.service import revoke_all_sessions
from api.errors import BadRequest, Conflict, NotFound
from api.links import public_url
from api.mail.service import queue_mail
from api.users import repository
from api.users.schemas import (
    AccountDeleted,
    DeletionMailed,
    ResetLink,
    UserCreate,
    UserPublic,
    UsersPublic,
)
from core import erasure
from core.config import settings
from core.erasure import Erased, Reason
from core.models import (
    EmailKind,
    PasswordReset,
    Role,
    User,
    utcnow,
)
from core.storage import Storage

DELETION_KEY = "account-deletion:{digest}"


def mail_deletion_link(
    session: Session, redis: Redis, user: User, locale: str | None = None
) -> DeletionMailed:
    """An attendee has no password to give again, and "type your email" proves nothing
    against a stolen session: the deletion waits for a link mailed to the account's address,
    good once for SIGN_IN_LINK_MINUTES. Redis holds the token's digest only."""
    token, digest = new_link_token()
    minutes = settings.SIGN_IN_LINK_MINUTES
    redis.set(DELETION_KEY.format(digest=digest), str(user.id), ex=minutes * 60)
    queue_mail(session, kind=EmailKind.sign_in, to=user.email, template="delete_account",
               link=public_url(f"/delete-account#{token}"), minutes=minutes,
               expires_at=utcnow() + timedelta(minutes=minutes), locale=locale)  # fmt: skip
    return DeletionMailed(expires_in_minutes=minutes)


def delete_by_link(session: Session, storage: Storage, redis: Redis, token: str) -> AccountDeleted:
    """Spend a mailed deletion link (once) and delete its account."""
    raw = redis.getdel(DELETION_KEY.format(digest=token_digest(token)))
    user_id = uuid.UUID(raw.decode() if isinstance(raw, bytes) else raw) if raw else None
    user = auth_repository.get_user(session, user_id) if user_id else None
    if user is None:
        raise BadRequest("the link was used, has expired or is not valid", code="invalid_link")
    return delete_account(session, storage, user, f"{user.role.value}:{user.id}")


def delete_account(session: Session, storage: Storage, user: User, actor: str) -> AccountDeleted:
    """Delete the account with its registrations, selfies, encodings and matches (each
    attendance's face data as `DELETE /api/me/face-data` deletes it). A photographer or
    admin who still owns events is refused: the events (and the attendees' photos in
    them) are deleted or handed over first. The last active admin is refused too."""
    owned = repository.count_owned_events(session, user.id)
    if owned:
        raise Conflict(
            f"this account owns {owned} event(s): delete them or hand them over first",
            code="events_remain",
        )
    if user.role == Role.admin and _other_active_admins(session, user) == 0:
        raise Conflict("the last active admin cannot be deleted", code="last_admin")
    attendances = repository.attendances_of(session, user.id)
    deleted = delete_face_data_of(
        session, storage, attendances, actor=actor, reason=Reason.account_deleted
    )
    for attendee in attendances:
        session.delete(attendee)  # its "not me"s cascade
    session.flush()
    session.delete(user)
    erasure.record(session, Erased(accounts=1), event_id=None, subject_id=user.id, actor=actor,
                   reason=None)  # fmt: skip
    return AccountDeleted(events_joined=len(attendances), **deleted.model_dump())


def set_active(session: Session, user: User, active: bool) -> User:
    """Deactivate (no sign-in, every token refused) or reactivate an account."""
    if not active and user.role == Role.admin and _other_active_admins(session, user) == 0:
        raise Conflict("the last active admin cannot be deactivated", code="last_admin")
    user.is_active = active
    session.add(user)
    if not active:
        revoke_all_sessions(session, user.id)
    return user


def _other_active_admins(session: Session, user: User) -> int:
    return repository.count_other_active_admins(session, user.id)


RESET_LINK_HOURS = 24


def create_reset_link(session: Session, user: User) -> ResetLink:
    """A one-time link to set a new password, for an admin to hand over (staff have no
    mail yet). Earlier unused links of the account stop working."""
    now = utcnow()
    for old in repository.unused_resets(session, user.id):
        old.used_at = now
        session.add(old)
    token, digest = new_link_token()
    reset = PasswordReset(user_id=user.id, token_sha256=digest,
                          expires_at=now + timedelta(hours=RESET_LINK_HOURS))  # fmt: skip
    session.add(reset)
    return ResetLink(url=f"/reset-password#{token}", expires_at=reset.expires_at)


def reset_password(session: Session, token: str, password: str) -> None:
    """Set the password a link was made for, once; a used, replaced or expired link is a 400."""
    reset = repository.reset_by_digest(session, token_digest(token))
    if reset is None or reset.used_at is not None:
        raise BadRequest("this link is not valid, or was used already", code="invalid_reset_link")
    if reset.expires_at < utcnow():
        raise BadRequest(
            "this link has expired: ask an admin for a new one", code="reset_link_expired"
        )
    user = auth_repository.get_user(session, reset.user_id)
    if user is None:
        raise BadRequest("this link is not valid, or was used already", code="invalid_reset_link")
    user.hashed_password = hash_password(password)
    reset.used_at = utcnow()
    session.add(user)
    session.add(reset)
    revoke_all_sessions(session, user.id)  # whoever knew the old password is signed out


def get_user(session: Session, user_id: uuid.UUID) -> User:
    user = auth_repository.get_user(session, user_id)
    if user is None:
        raise NotFound("no such user", code="user_not_found")
    return user


def list_users(session: Session, *, cursor: str | None, limit: int) -> UsersPublic:
    users, next_cursor, count = repository.list_users(session, cursor=cursor, limit=limit)
    return UsersPublic(data=[UserPublic.model_validate(u) for u in users], count=count,
                       next_cursor=next_cursor)  # fmt: skip


def create_user(session: Session, data: UserCreate) -> User:
    email = data.email.lower()
    if auth_repository.get_user_by_email(session, email):
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
