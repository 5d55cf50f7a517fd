from __future__ import annotations

import uuid
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, File, Query, Response, UploadFile
from fastapi.responses import StreamingResponse

from api.archive import stream_archive
from api.auth import service as auth_service
from api.auth.deps import (
    Claims,
    CurrentUser,
    RequirePhotographer,
    TokenDep,
    get_claims,
    get_current_user,
    require_photographer,
)
from api.auth.security import issue_download_link, spend_download_link
from api.deps import Cursor, RedisDep, SessionDep, SnapshotDep, StorageDep
from api.errors import (
    Conflict,
    InvalidImage,
    NotFound,
    NotPermitted,
    PayloadTooLarge,
    Unauthorized,
    responses,
)
from api.events.service import get_event_for_contributor, get_owned_event
from api.photos import service
from api.photos.schemas import (
    DownloadLink,
    KnownPhotos,
    KnownPhotosQuery,
    PhotoDeleted,
    PhotoPeople,
    PhotosPublic,
    UploadAccepted,
)
from core.config import settings
from core.models import PhotoStatus

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
    # Held FOR SHARE until the commit: a deletion waits for this upload, or it sees the
    # event `deleting` and stores nothing.
    event = get_event_for_contributor(session, user, event_id, for_share=True)
    if len(files) > settings.MAX_FILES_PER_UPLOAD:
        raise PayloadTooLarge(
            f"at most {settings.MAX_FILES_PER_UPLOAD} files per request", code="too_many_files"
        )
    # Read one byte past the limit so an oversized file is refused without reading it all.
    contents = [(f.filename, f.file.read(settings.MAX_UPLOAD_BYTES + 1)) for f in files]
    result = service.upload_photos(session, storage, event, contents, uploaded_by=user.id)
    if result.accepted + result.duplicates == 0:
        raise InvalidImage(
            [r.model_dump(exclude_none=True) for r in result.data], code="no_valid_files"
        )
    return result


@router.post("/events/{event_id}/photos/known", responses=responses(*_AUTH, NotFound))
def find_known_photos(
    session: SessionDep, user: RequirePhotographer, event_id: uuid.UUID, body: KnownPhotosQuery
) -> KnownPhotos:
    """Which of these files (by SHA-256) the event has already: an upload client asks
    first, and sends only the others (`facematch upload`)."""
    event = get_event_for_contributor(session, user, event_id)
    return service.known_photos(session, event, body)


@router.get("/events/{event_id}/photos", responses=responses(*_AUTH, NotFound))
def list_event_photos(
    session: SnapshotDep,
    user: RequirePhotographer,
    event_id: uuid.UUID,
    status: PhotoStatus | None = None,
    photographer: Annotated[
        uuid.UUID | None, Query(description="only the photos this photographer uploaded")
    ] = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> PhotosPublic:
    """The event's photos with their indexing status, latest taken first, a page at a time;
    a contributor sees their own uploads only."""
    event = get_event_for_contributor(session, user, event_id)
    return service.list_event_photos(
        session, event, user, status=status, photographer=photographer, cursor=cursor, limit=limit
    )


@router.delete("/photos/{photo_id}", responses=responses(*_AUTH, NotFound))
def delete_photo(
    session: SessionDep, storage: StorageDep, user: RequirePhotographer, photo_id: uuid.UUID
) -> PhotoDeleted:
    """Delete a photo and everything made from it: faces, encodings, matches, previews."""
    return service.delete_photo(session, storage, user, photo_id)


_ARCHIVE = "/api/events/{event_id}/archive"


@router.post("/events/{event_id}/archive-link", responses=responses(*_AUTH, NotFound))
def create_event_archive_link(
    session: SessionDep,
    redis: RedisDep,
    user: RequirePhotographer,
    claims: Claims,
    event_id: uuid.UUID,
    matched_only: Annotated[bool, Query(description="only photos matched to an attendee")] = False,
) -> DownloadLink:
    """A link for one download of the event's photos as one zip, valid for a few minutes and
    while this session lasts: the browser streams it to disk itself (a 50,000-photo event
    does not fit in a page). The URL carries an opaque id, spent by its first use."""
    event = get_owned_event(session, user, event_id)
    path = _ARCHIVE.format(event_id=event.id)
    link, expires = issue_download_link(redis, claims, f"{path}?matched_only={matched_only}")
    query = urlencode({"matched_only": str(matched_only).lower(), "link": link})
    return DownloadLink(url=f"{path}?{query}", expires_at=expires)


@router.get(
    "/events/{event_id}/archive",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/zip": {}}, "description": "a zip of the photos"},
        **responses(*_AUTH, NotFound),
    },
)
def download_event_photos(
    session: SessionDep,
    storage: StorageDep,
    redis: RedisDep,
    token: TokenDep,
    event_id: uuid.UUID,
    matched_only: Annotated[bool, Query(description="only photos matched to an attendee")] = False,
    link: Annotated[
        str | None, Query(max_length=64, description="a link's id, instead of a bearer token")
    ] = None,
) -> StreamingResponse:
    """The event's originals as one zip, streamed a photo at a time (stored, not deflated:
    JPEGs do not compress); for its photographer or an admin, with a bearer token or
    through a link from `archive-link`, once."""
    if link is not None:
        path = f"{_ARCHIVE.format(event_id=event_id)}?matched_only={matched_only}"
        grant = spend_download_link(redis, link, path)
        user = auth_service.user_of_session(session, grant.user_id, grant.session_id)
    else:
        user = get_current_user(session, get_claims(token))
    event = get_owned_event(session, require_photographer(user), event_id)
    entries = service.archive_entries(session, storage, event, matched_only=matched_only)
    name = f"{event.code}{'-matched' if matched_only else ''}.zip"
    return StreamingResponse(
        stream_archive(entries),
        media_type="application/zip",
        headers={
            "Content-Disposition": service.attachment(name),
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/photos/{photo_id}/people", responses=responses(*_AUTH, NotFound))
def read_people_in_photo(
    session: SessionDep, user: RequirePhotographer, photo_id: uuid.UUID
) -> PhotoPeople:
    """Who was found in the photo: the matched attendees' names, nearest first."""
    return service.people_in_photo(session, user, photo_id)


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
    """The photo, for its photographer, an admin, or an attendee matched to it (the original
    only where the event lets attendees download it)."""
    photo, data, media_type = service.read_viewable_image(session, storage, user, photo_id, size)
    return Response(data, media_type=media_type,
                    headers=service.image_headers(photo, size, download))  # fmt: skip
