from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import StreamingResponse

from api.archive import stream_archive
from api.auth.deps import CurrentAttendee
from api.deps import Cursor, SessionDep, StorageDep
from api.errors import NotFound, NotPermitted, Unauthorized, responses
from api.matches import service
from api.matches.schemas import HiddenPhotos, MatchedPhotos

router = APIRouter(tags=["matches"])


@router.get(
    "/me/photos",
    response_model=MatchedPhotos,
    responses={
        304: {"description": "unchanged since the ETag sent"},
        **responses(Unauthorized, NotPermitted),
    },
)
def list_my_photos(
    session: SessionDep,
    attendee: CurrentAttendee,
    response: Response,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 60,
    if_none_match: Annotated[str | None, Header()] = None,
) -> MatchedPhotos | Response:
    """The event's photos the attendee is in (by face, and by bib when they gave one), most
    recently found first, a page at a time; send If-None-Match to poll."""
    photos, etag = service.my_photos(session, attendee, cursor=cursor, limit=limit)
    headers = {"ETag": etag, "Cache-Control": "private, no-cache"}
    if if_none_match == etag:
        return Response(status_code=304, headers=headers)
    response.headers.update(headers)
    return photos


@router.get(
    "/me/photos/archive",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/zip": {}}, "description": "a zip of the photos"},
        **responses(Unauthorized, NotPermitted),
    },
)
def download_my_photos(
    session: SessionDep, storage: StorageDep, attendee: CurrentAttendee
) -> StreamingResponse:
    """Every photo the attendee is in, as originals in one zip."""
    entries = service.archive_entries(session, attendee)
    return StreamingResponse(
        stream_archive(storage, entries),
        media_type="application/zip",
        headers={
            "Content-Disposition": 'attachment; filename="my-photos.zip"',
            "Cache-Control": "private, no-store",
        },
    )


@router.post(
    "/me/photos/{photo_id}/not-me",
    status_code=204,
    responses=responses(Unauthorized, NotPermitted, NotFound),
)
def reject_my_photo(
    session: SessionDep, attendee: CurrentAttendee, photo_id: uuid.UUID
) -> Response:
    """Say "not me": the photo leaves your matches and stays out through rematches."""
    service.reject_match(session, attendee, photo_id)
    return Response(status_code=204)


@router.delete(
    "/me/photos/{photo_id}/not-me",
    status_code=204,
    responses=responses(Unauthorized, NotPermitted, NotFound),
)
def undo_reject_my_photo(
    session: SessionDep, attendee: CurrentAttendee, photo_id: uuid.UUID
) -> Response:
    """Take a "not me" back: the photo is matched again, and comes back if it is you."""
    service.undo_reject(session, attendee, photo_id)
    return Response(status_code=204)


@router.get("/me/hidden-photos", responses=responses(Unauthorized, NotPermitted))
def read_my_hidden_photos(session: SessionDep, attendee: CurrentAttendee) -> HiddenPhotos:
    """The photos you said "not me" to, latest first; each can be restored."""
    return service.hidden_photos(session, attendee.id)
