from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from api import ratelimit
from api.auth.deps import RequirePhotographer, TokenDep
from api.deps import Cursor, RedisDep, SessionDep, SnapshotDep, StorageDep
from api.errors import (
    BadRequest,
    Conflict,
    NotFound,
    NotPermitted,
    TooManyRequests,
    Unauthorized,
    responses,
)
from api.events.service import get_owned_event
from api.galleries import service
from api.galleries.schemas import (
    GalleryAccess,
    GalleryInfo,
    GalleryOpen,
    GalleryPhotos,
    GalleryPublic,
    GalleryUpdate,
)
from api.photos.service import image_headers

router = APIRouter(tags=["galleries"])
_AUTH = (Unauthorized, NotPermitted)


@router.get("/events/{event_id}/gallery", responses=responses(*_AUTH, NotFound))
def read_event_gallery(
    session: SessionDep, user: RequirePhotographer, event_id: uuid.UUID
) -> GalleryPublic:
    """The event's browse-all gallery: off, or its link and expiry."""
    return service.gallery_of(get_owned_event(session, user, event_id))


@router.put(
    "/events/{event_id}/gallery", responses=responses(*_AUTH, NotFound, BadRequest, Conflict)
)
def update_event_gallery(
    session: SessionDep, user: RequirePhotographer, event_id: uuid.UUID, body: GalleryUpdate
) -> GalleryPublic:
    """Share every photo of the event through a new link, with this password, until then
    (the link before stops working)."""
    event = get_owned_event(session, user, event_id, for_update=True)
    return service.set_gallery(session, event, body)


@router.delete("/events/{event_id}/gallery", status_code=204, responses=responses(*_AUTH, NotFound))
def delete_event_gallery(
    session: SessionDep, user: RequirePhotographer, event_id: uuid.UUID
) -> Response:
    """Turn the gallery off: its link and every access through it stop at once."""
    service.delete_gallery(session, get_owned_event(session, user, event_id, for_update=True))
    return Response(status_code=204)


@router.get("/galleries/{token}", responses=responses(NotFound))
def read_gallery(session: SessionDep, token: str) -> GalleryInfo:
    """Whose gallery this is, and until when, before the password."""
    return service.info(session, token)


@router.post(
    "/galleries/{token}/access", responses=responses(NotFound, Unauthorized, TooManyRequests)
)
async def open_gallery(
    request: Request, session: SessionDep, redis: RedisDep, token: str, body: GalleryOpen
) -> GalleryAccess:
    """The gallery's password: an access token for its photos (a few hours at most)."""
    ratelimit.check_gallery_password(redis, request, token)
    # argon2id takes tens of milliseconds by design: in a worker thread, never the loop.
    return await run_in_threadpool(service.open_gallery, session, redis, token, body.password)


@router.get("/galleries/{token}/photos", responses=responses(NotFound, Unauthorized))
def list_gallery_photos(
    session: SnapshotDep,
    redis: RedisDep,
    access: TokenDep,
    token: str,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 60,
) -> GalleryPhotos:
    """Every photo of the event, latest taken first (with the gallery's access token)."""
    return service.list_photos(session, redis, token, access, cursor=cursor, limit=limit)


@router.get(
    "/galleries/{token}/photos/{photo_id}/image",
    response_class=Response,
    responses={
        200: {"content": {"image/jpeg": {}}, "description": "the photo"},
        **responses(NotFound, Unauthorized, NotPermitted),
    },
)
def read_gallery_photo_image(
    session: SessionDep,
    redis: RedisDep,
    storage: StorageDep,
    access: TokenDep,
    token: str,
    photo_id: uuid.UUID,
    size: Annotated[Literal["full", "preview", "thumb"], Query()] = "full",
    download: Annotated[bool, Query(description="as an attachment with its file name")] = False,
) -> Response:
    """A photo of the gallery (the original only where the event lets visitors have it)."""
    photo, data, media_type = service.read_image(
        session, redis, storage, token, access, photo_id, size
    )
    return Response(data, media_type=media_type, headers=image_headers(photo, size, download))
