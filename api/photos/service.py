from __future__ import annotations

import uuid
from pathlib import PurePath

from sqlmodel import Session

from api import queue
from api.config import settings
from api.errors import AppError, Conflict, NotFound, NotPermitted
from api.images import inspect_image
from api.models import Event, EventStatus, Photo, PhotoStatus, Role, User
from api.photos import repository
from api.photos.schemas import UploadAccepted, UploadResult
from api.storage import Storage


def _clean_filename(name: str | None) -> str:
    return PurePath(name or "upload").name[:300] or "upload"


def store_photo(
    session: Session, storage: Storage, event: Event, filename: str, data: bytes
) -> Photo:
    """Check, store and register one photo; indexing is enqueued after the commit."""
    info = inspect_image(data, max_bytes=settings.MAX_UPLOAD_BYTES)
    photo_id = uuid.uuid4()
    key = f"events/{event.id}/photos/{photo_id}{info.extension}"
    storage.put(key, data)
    queue.on_rollback(session, lambda: storage.delete(key))
    photo = Photo(
        id=photo_id,
        event_id=event.id,
        storage_key=key,
        filename=filename,
        content_type=info.content_type,
        bytes=len(data),
        width=info.width,
        height=info.height,
    )
    session.add(photo)
    queue.defer(session, queue.index_photo(photo.id))
    return photo


def upload_photos(
    session: Session, storage: Storage, event: Event, files: list[tuple[str | None, bytes]]
) -> UploadAccepted:
    if event.status != EventStatus.open:
        raise Conflict("the event is closed", code="event_closed")
    results = []
    for raw_name, data in files:
        filename = _clean_filename(raw_name)
        try:
            photo = store_photo(session, storage, event, filename, data)
        except AppError as exc:
            results.append(
                UploadResult(
                    filename=filename, error=type(exc).__name__, code=exc.code, detail=exc.detail
                )
            )
            continue
        results.append(UploadResult(filename=filename, id=photo.id, status=PhotoStatus.pending))
    accepted = sum(1 for r in results if r.id is not None)
    return UploadAccepted(data=results, accepted=accepted, rejected=len(results) - accepted)


def get_viewable_photo(session: Session, user: User, photo_id: uuid.UUID) -> Photo:
    """The photo, if `user` may see it: its photographer, an admin, or an attendee matched to it."""
    photo = repository.get_photo(session, photo_id)
    if photo is None:
        raise NotFound("no such photo", code="photo_not_found")
    if user.role == Role.admin:
        return photo
    event = session.get(Event, photo.event_id)
    if event is not None and event.owner_id == user.id:
        return photo
    if repository.user_is_matched_to(session, user.id, photo.id):
        return photo
    raise NotPermitted("you are not matched to this photo", code="not_matched")
