from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, File, Query, Response, UploadFile

from api.config import settings
from api.deps import CurrentUser, Cursor, RequirePhotographer, SessionDep, StorageDep
from api.errors import (
    Conflict,
    InvalidImage,
    NotFound,
    NotPermitted,
    PayloadTooLarge,
    Unauthorized,
    responses,
)
from api.events.service import get_owned_event
from api.models import PhotoStatus
from api.photos import service
from api.photos.schemas import PhotoDeleted, PhotosPublic, UploadAccepted

router = APIRouter(tags=["photos"])
_AUTH = (Unauthorized, NotPermitted)


@router.post(
    "/events/{event_id}/photos",
    status_code=202,
    responses=responses(*_AUTH, NotFound, Conflict, PayloadTooLarge, InvalidImage),
)
def upload_event_photos(
    session: SessionDep,
    storage: StorageDep,
    user: RequirePhotographer,
    event_id: uuid.UUID,
    files: Annotated[list[UploadFile], File(description="one or many photos")],
) -> UploadAccepted:
    """Upload photos; each good file is kept and queued for indexing, a file the event has
    already is answered with that photo (`duplicate`), and each bad one says why."""
    event = get_owned_event(session, user, event_id)
    if len(files) > settings.MAX_FILES_PER_UPLOAD:
        raise PayloadTooLarge(
            f"at most {settings.MAX_FILES_PER_UPLOAD} files per request", code="too_many_files"
        )
    # Read one byte past the limit so an oversized file is refused without reading it all.
    contents = [(f.filename, f.file.read(settings.MAX_UPLOAD_BYTES + 1)) for f in files]
    result = service.upload_photos(session, storage, event, contents)
    if result.accepted + result.duplicates == 0:
        raise InvalidImage(
            [r.model_dump(exclude_none=True) for r in result.data], code="no_valid_files"
        )
    return result


@router.get("/events/{event_id}/photos", responses=responses(*_AUTH, NotFound))
def list_event_photos(
    session: SessionDep,
    user: RequirePhotographer,
    event_id: uuid.UUID,
    status: PhotoStatus | None = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> PhotosPublic:
    """The event's photos with their indexing status, newest first, a page at a time."""
    event = get_owned_event(session, user, event_id)
    return service.list_event_photos(session, event, status=status, cursor=cursor, limit=limit)


@router.delete("/photos/{photo_id}", responses=responses(*_AUTH, NotFound))
def delete_photo(
    session: SessionDep, storage: StorageDep, user: RequirePhotographer, photo_id: uuid.UUID
) -> PhotoDeleted:
    """Delete a photo and everything made from it: faces, encodings, matches, previews."""
    return service.delete_photo(session, storage, user, photo_id)


@router.get(
    "/photos/{photo_id}/image",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "the photo"},
        **responses(*_AUTH, NotFound),
    },
)
def read_photo_image(
    session: SessionDep,
    storage: StorageDep,
    user: CurrentUser,
    photo_id: uuid.UUID,
    size: Annotated[
        Literal["full", "preview", "thumb"],
        Query(description="the original, or an upright JPEG 1600 or 480 px on its longest side"),
    ] = "full",
    download: Annotated[bool, Query(description="as an attachment with its file name")] = False,
) -> Response:
    """The photo, for its photographer, an admin, or an attendee matched to it."""
    photo = service.get_viewable_photo(session, user, photo_id)
    data, media_type = service.read_image(storage, photo, size)
    headers = {"Cache-Control": "private, max-age=3600"}
    if download:
        headers["Content-Disposition"] = service.attachment(photo.filename)
    return Response(data, media_type=media_type, headers=headers)
