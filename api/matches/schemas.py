from __future__ import annotations

import uuid
from datetime import datetime

from sqlmodel import SQLModel


class MatchedPhoto(SQLModel):
    id: uuid.UUID
    url: str
    distance: float
    matched_at: datetime


class MatchedPhotos(SQLModel):
    data: list[MatchedPhoto]
    count: int
