from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import EmailStr
from sqlmodel import Field, SQLModel

from core.models import Role, UserBase
from core.text import OneLine


class Token(SQLModel):
    access_token: str
    token_type: str = "bearer"


class UserCreate(SQLModel):
    email: EmailStr
    password: str = Field(min_length=8, max_length=128)
    full_name: OneLine | None = Field(default=None, max_length=200)
    role: Role = Role.photographer


class UserPublic(UserBase):
    id: uuid.UUID
    is_active: bool
    created_at: datetime


class UsersPublic(SQLModel):
    data: list[UserPublic]
    count: int
    next_cursor: str | None = None
    """Send it back as `cursor` for the next page; None: this is the last."""


class SessionPublic(SQLModel):
    id: uuid.UUID
    created_at: datetime
    expires_at: datetime
    user_agent: str | None = None
    current: bool = False
    """The session of the token that asked."""


class SignedOut(SQLModel):
    sessions_ended: int
