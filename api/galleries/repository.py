from __future__ import annotations

import uuid

from sqlmodel import Session, col, select

from core.models import Event, Photo, PhotoStatus


def event_of_token(session: Session, token: str) -> Event | None:
    return session.exec(select(Event).where(col(Event.gallery_token) == token)).first()


def indexed_photo(session: Session, event_id: uuid.UUID, photo_id: uuid.UUID) -> Photo | None:
    return session.exec(
        select(Photo).where(
            col(Photo.id) == photo_id,
            col(Photo.event_id) == event_id,
            col(Photo.status) == PhotoStatus.indexed,
        )
    ).first()
