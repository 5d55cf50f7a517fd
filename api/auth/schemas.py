from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import SQLModel


class Token(SQLModel):
    access_token: str
    token_type: str = "bearer"


class SessionPublic(SQLModel):
    id: uuid.UUID
    created_at: datetime
    expires_at: datetime
    user_agent: str | None = None
    current: bool = False
    """The session of the token that asked."""


class SignedOut(SQLModel):
    sessions_ended: int
