from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Header, Query, Response
from fastapi.responses import StreamingResponse

from api.archive import stream_archive
from api.auth import service as auth_service
from api.auth.deps import Claims, CurrentAttendee, TokenDep, get_claims, get_current_user
from api.auth.security import issue_download_link, spend_download_link
from api.deps import Cursor, RedisDep, SessionDep, StorageDep
from api.errors import NotFound, NotPermitted, Unauthorized, responses
from api.matches import service
from api.matches.schemas import HiddenPhotos, MatchedPhotos
from api.photos.schemas import DownloadLink

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


_MY_ARCHIVE = "/api/me/photos/archive"


@router.post("/me/photos/archive-link", responses=responses(Unauthorized, NotPermitted))
def create_my_archive_link(
    session: SessionDep, redis: RedisDep, claims: Claims, attendee: CurrentAttendee
) -> DownloadLink:
    """A link for one download of your photos as one zip, valid for a few minutes: the
    browser streams it to disk itself, so a phone holds none of it in its memory. 403
    `zips_not_allowed` where the event's photographer offers no zips."""
    service.check_archive(session, attendee)
    path = f"{_MY_ARCHIVE}?attendee={attendee.id}"
    link, expires = issue_download_link(redis, claims, path)
    query = urlencode({"attendee": str(attendee.id), "link": link})
    return DownloadLink(url=f"{_MY_ARCHIVE}?{query}", expires_at=expires)


@router.get(
    "/me/photos/archive",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"application/zip": {}}, "description": "a zip of the photos"},
        **responses(Unauthorized, NotPermitted),
    },
)
def download_my_photos(
    session: SessionDep,
    storage: StorageDep,
    redis: RedisDep,
    token: TokenDep,
    attendee: Annotated[uuid.UUID | None, Query(description="with `link`: whose photos")] = None,
    link: Annotated[
        str | None, Query(max_length=64, description="a link's id, instead of a bearer token")
    ] = None,
) -> StreamingResponse:
    """Every photo you are in, in one zip, streamed a photo at a time: the originals, or
    the previews where the event's photographer offers no originals. With a bearer token,
    or through a link from `archive-link`, once."""
    if link is not None:
        grant = spend_download_link(redis, link, f"{_MY_ARCHIVE}?attendee={attendee}")
        user = auth_service.user_of_session(session, grant.user_id, grant.session_id)
        found = auth_service.attendee_of_token(session, attendee, user)
    else:
        claims = get_claims(token)
        user = get_current_user(session, claims)
        found = auth_service.attendee_of_token(session, claims.attendee_id, user)
    entries = service.archive_entries(session, storage, found)
    return StreamingResponse(
        stream_archive(entries),
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
