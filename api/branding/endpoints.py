from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, File, Request, Response, UploadFile

from api.auth.deps import RequirePhotographer
from api.branding import service
from api.branding.schemas import Brand, LogoStored
from api.deps import SessionDep, StorageDep
from api.errors import (
    Conflict,
    InvalidImage,
    NotFound,
    NotPermitted,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
    responses,
)
from api.events.service import get_owned_event

router = APIRouter(tags=["branding"])
_AUTH = (Unauthorized, NotPermitted)


@router.put(
    "/events/{event_id}/logo",
    responses=responses(*_AUTH, NotFound, Conflict, PayloadTooLarge, InvalidImage),
)
def upload_event_logo(
    session: SessionDep,
    storage: StorageDep,
    user: RequirePhotographer,
    event_id: uuid.UUID,
    file: Annotated[UploadFile, File(description="a PNG, JPEG or WebP file, 2 MiB at most")],
) -> LogoStored:
    """Set the event's logo, shown on its attendee pages and mails, and as its watermark
    when that is on."""
    event = get_owned_event(session, user, event_id, for_update=True)
    data = file.file.read(service.LOGO_MAX_BYTES + 1)
    return service.store_logo(session, storage, event, data)


@router.delete(
    "/events/{event_id}/logo", status_code=204, responses=responses(*_AUTH, NotFound, Conflict)
)
def delete_event_logo(
    session: SessionDep, storage: StorageDep, user: RequirePhotographer, event_id: uuid.UUID
) -> Response:
    """Remove the event's logo."""
    event = get_owned_event(session, user, event_id, for_update=True)
    service.delete_logo(session, storage, event)
    return Response(status_code=204)


@router.get(
    "/e/{code}/logo",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}}, "description": "the logo"},
        **responses(NotFound, TooManyRequests),
    },
)
def read_event_logo(
    request: Request, session: SessionDep, storage: StorageDep, code: str
) -> Response:
    """The event's logo, for anyone with its code (its page shows it)."""
    event = service.event_of_code(session, request, code)
    data = service.read_logo(storage, event)
    return Response(data, media_type="image/png",
                    headers={"Cache-Control": "public, max-age=86400"})  # fmt: skip


@router.get("/e/{code}/brand", responses=responses(NotFound, TooManyRequests))
def read_event_brand(request: Request, session: SessionDep, code: str) -> Brand:
    """The event's name, logo, accent colour and welcome text, for anyone with its code."""
    return service.brand(service.event_of_code(session, request, code))
