from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.auth import repository
from api.auth.schemas import UserCreate
from api.auth.security import (
    TokenClaims,
    burn_verify_time,
    create_access_token,
    hash_password,
    verify_password,
)
from api.errors import Conflict, Unauthorized
from api.models import Role, User


def authenticate(session: Session, email: str, password: str) -> User:
    user = repository.get_user_by_email(session, email)
    if user is None:
        burn_verify_time(password)
        raise Unauthorized("incorrect email or password", code="bad_credentials")
    if not verify_password(password, user.hashed_password) or not user.is_active:
        raise Unauthorized("incorrect email or password", code="bad_credentials")
    return user


def login(session: Session, email: str, password: str) -> str:
    user = authenticate(session, email, password)
    attendee = repository.latest_attendee(session, user.id) if user.role == Role.attendee else None
    return create_access_token(TokenClaims(user.id, user.role, attendee.id if attendee else None))


def create_user(session: Session, data: UserCreate) -> User:
    email = data.email.lower()
    if repository.get_user_by_email(session, email):
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
