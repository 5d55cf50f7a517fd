from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from api.auth.deps import RequirePhotographer
from api.deps import SessionDep
from api.errors import Conflict, NotFound, NotPermitted, Unauthorized, responses
from api.events.service import get_event_for_contributor, get_owned_event
from api.photographers import service
from api.photographers.schemas import (
    ClockCorrected,
    ClockCorrection,
    ContributorInvite,
    Photographers,
)

router = APIRouter(tags=["photographers"])
_AUTH = (Unauthorized, NotPermitted)


@router.get("/events/{event_id}/photographers", responses=responses(*_AUTH, NotFound))
def list_photographers(
    session: SessionDep, user: RequirePhotographer, event_id: uuid.UUID
) -> Photographers:
    """The owner, the contributors and past uploaders, with their photos and clocks."""
    return service.list_photographers(session, get_owned_event(session, user, event_id))


@router.post(
    "/events/{event_id}/contributors",
    status_code=201,
    responses=responses(*_AUTH, NotFound, Conflict),
)
def invite_contributor(
    session: SessionDep, user: RequirePhotographer, event_id: uuid.UUID, body: ContributorInvite
) -> Photographers:
    """Invite a photographer by email to upload to the event."""
    event = get_owned_event(session, user, event_id, for_share=True)
    return service.invite(session, event, user, body)


@router.delete(
    "/events/{event_id}/contributors/{email}",
    status_code=204,
    responses=responses(*_AUTH, NotFound),
)
def remove_contributor(
    session: SessionDep, user: RequirePhotographer, event_id: uuid.UUID, email: str
) -> Response:
    """Take an invitation back; the photos they uploaded stay."""
    service.remove(session, get_owned_event(session, user, event_id), email)
    return Response(status_code=204)


@router.put("/events/{event_id}/clocks/{user_id}", responses=responses(*_AUTH, NotFound))
def correct_clock(
    session: SessionDep,
    user: RequirePhotographer,
    event_id: uuid.UUID,
    user_id: uuid.UUID,
    body: ClockCorrection,
) -> ClockCorrected:
    """Correct a photographer's camera clock: their photos move on the event's timeline."""
    event = get_event_for_contributor(session, user, event_id, for_share=True)
    return service.correct_clock(session, event, user, user_id, body)
