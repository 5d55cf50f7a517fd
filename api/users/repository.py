from __future__ import annotations

import uuid

from sqlalchemy import func
from sqlmodel import Session, col, select

from api.pagination import count_rows, newest_first
from core.models import Attendee, Event, PasswordReset, Role, User


def list_users(
    session: Session, *, cursor: str | None, limit: int
) -> tuple[list[User], str | None, int]:
    users, next_cursor = newest_first(
        session, select(User), col(User.created_at), col(User.id), cursor=cursor, limit=limit
    )
    return users, next_cursor, count_rows(session, User)


def count_owned_events(session: Session, user_id: uuid.UUID) -> int:
    return int(
        session.exec(select(func.count()).select_from(Event).where(Event.owner_id == user_id)).one()
    )


def attendances_of(session: Session, user_id: uuid.UUID) -> list[Attendee]:
    return list(session.exec(select(Attendee).where(Attendee.user_id == user_id)).all())


def count_other_active_admins(session: Session, user_id: uuid.UUID) -> int:
    return int(session.exec(
        select(func.count()).select_from(User).where(
            User.role == Role.admin, col(User.is_active), User.id != user_id
        )
    ).one())  # fmt: skip


def unused_resets(session: Session, user_id: uuid.UUID) -> list[PasswordReset]:
    return list(session.exec(select(PasswordReset).where(
        PasswordReset.user_id == user_id, col(PasswordReset.used_at).is_(None)
    )).all())  # fmt: skip


def reset_by_digest(session: Session, digest: str) -> PasswordReset | None:
    return session.exec(
        select(PasswordReset).where(PasswordReset.token_sha256 == digest).with_for_update()
    ).first()
