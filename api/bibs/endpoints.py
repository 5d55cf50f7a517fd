from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Query, Request, Response, UploadFile

from api import ratelimit
from api.auth.deps import CurrentAttendee, RequirePhotographer
from api.bibs import service
from api.bibs.schemas import (
    BibPassRequest,
    BibPassSent,
    BibPhotos,
    MyBib,
    MyBibUpdate,
    RunnersPublic,
    StartListImported,
)
from api.deps import Cursor, RedisDep, SessionDep, SnapshotDep, StorageDep
from api.errors import (
    BadRequest,
    InvalidFile,
    NotFound,
    NotPermitted,
    TooManyRequests,
    Unauthorized,
    responses,
)
from api.events.service import get_owned_event
from api.photos.service import image_headers

router = APIRouter(tags=["bibs"])
_AUTH = (Unauthorized, NotPermitted)
Size = Annotated[
    Literal["full", "preview", "thumb"],
    Query(description="the original, or an upright JPEG 1600 or 480 px on its longest side"),
]
_IMAGE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/jpeg": {}}, "description": "the photo"}
}
Download = Annotated[bool, Query(description="as an attachment with its file name")]


@router.put("/events/{event_id}/start-list", responses=responses(*_AUTH, NotFound, InvalidFile))
def replace_start_list(
    session: SessionDep,
    user: RequirePhotographer,
    event_id: uuid.UUID,
    file: Annotated[UploadFile, File(description="CSV with a header: bib, name, email")],
) -> StartListImported:
    """Replace the event's start list; a file with any bad line is refused whole, each
    line's error listed."""
    event = get_owned_event(session, user, event_id, for_share=True)
    return service.import_start_list(session, event, file.file)


@router.get("/events/{event_id}/start-list", responses=responses(*_AUTH, NotFound))
def read_start_list(
    session: SnapshotDep,
    user: RequirePhotographer,
    event_id: uuid.UUID,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 200,
) -> RunnersPublic:
    """The event's start list, a page at a time."""
    event = get_owned_event(session, user, event_id)
    return service.read_start_list(session, event, cursor=cursor, limit=limit)


@router.delete(
    "/events/{event_id}/start-list", status_code=204, responses=responses(*_AUTH, NotFound)
)
def delete_start_list(session: SessionDep, user: RequirePhotographer, event_id: uuid.UUID) -> None:
    """Delete the event's start list (its names and addresses)."""
    service.delete_start_list(session, get_owned_event(session, user, event_id))


@router.get(
    "/e/{code}/bibs/{bib}/photos",
    responses=responses(BadRequest, NotFound, NotPermitted, TooManyRequests),
)
def search_bib_photos(
    session: SnapshotDep,
    request: Request,
    redis: RedisDep,
    code: str,
    bib: str,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 60,
) -> BibPhotos:
    """A bib's photos, where the event's bib search is open: no selfie, no biometrics."""
    ratelimit.check_bib_search(redis, request)
    return service.search(session, code, bib, cursor=cursor, limit=limit)


@router.get(
    "/e/{code}/bibs/{bib}/photos/{photo_id}/image",
    response_class=Response,
    responses={**_IMAGE, **responses(BadRequest, NotFound, NotPermitted)},
)
def read_bib_photo_image(
    session: SessionDep,
    storage: StorageDep,
    code: str,
    bib: str,
    photo_id: uuid.UUID,
    size: Size = "full",
    download: Download = False,
) -> Response:
    """A photo of a bib, where the event's bib search is open (the original only where the
    event lets visitors download it)."""
    photo, data, media_type = service.searched_image(session, storage, code, bib, photo_id, size)
    return Response(data, media_type=media_type, headers=image_headers(photo, size, download))


@router.post(
    "/e/{code}/bib-passes",
    status_code=202,
    responses=responses(BadRequest, NotFound, TooManyRequests),
)
def request_bib_pass(
    request: Request, session: SessionDep, redis: RedisDep, code: str, body: BibPassRequest
) -> BibPassSent:
    """Mail a link to this bib's photos to the address on the start list, if any."""
    ratelimit.check_bib_search(redis, request)
    ratelimit.check_sign_in_link(redis, request, f"bib:{code}:{body.bib}")
    return service.request_pass(session, code, body)


@router.get("/bib-passes/{token}/photos", responses=responses(BadRequest, NotFound))
def read_bib_pass_photos(
    session: SnapshotDep,
    token: str,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 60,
) -> BibPhotos:
    """The photos of a pass's bib: found by the number, no biometrics."""
    return service.pass_photos(session, token, cursor=cursor, limit=limit)


@router.get(
    "/bib-passes/{token}/photos/{photo_id}/image",
    response_class=Response,
    responses={**_IMAGE, **responses(NotFound, NotPermitted)},
)
def read_bib_pass_photo_image(
    session: SessionDep,
    storage: StorageDep,
    token: str,
    photo_id: uuid.UUID,
    size: Size = "full",
    download: Download = False,
) -> Response:
    """A photo of a pass's bib (the original only where the event lets visitors download it)."""
    photo, data, media_type = service.pass_image(session, storage, token, photo_id, size)
    return Response(data, media_type=media_type, headers=image_headers(photo, size, download))


@router.post("/bib-passes/{token}/claim", responses=responses(*_AUTH, NotFound))
def claim_bib_pass(session: SessionDep, attendee: CurrentAttendee, token: str) -> MyBib:
    """Add the pass's bib to your photos (you must be an attendee of its event)."""
    return service.claim_pass(session, attendee, token)


@router.get("/me/bib", responses=responses(*_AUTH))
def read_my_bib(attendee: CurrentAttendee) -> MyBib:
    """Your bib, if you gave one."""
    return service.my_bib(attendee)


@router.put("/me/bib", responses=responses(*_AUTH, BadRequest, NotFound))
def update_my_bib(session: SessionDep, attendee: CurrentAttendee, body: MyBibUpdate) -> MyBib:
    """Say your bib, where the event's bib search is open; otherwise claim a pass."""
    return service.set_my_bib(session, attendee, body)


@router.delete("/me/bib", responses=responses(*_AUTH))
def delete_my_bib(session: SessionDep, attendee: CurrentAttendee) -> MyBib:
    """Forget your bib: "my photos" holds your face matches only."""
    return service.drop_my_bib(session, attendee)
