from __future__ import annotations

import uuid

from fastapi import APIRouter

from api.auth.deps import RequirePhotographer
from api.deps import SessionDep
from api.errors import Conflict, NotFound, NotPermitted, Unauthorized, responses
from api.events.service import get_owned_event
from api.reviews import service
from api.reviews.schemas import HeldSelfies, ReviewDone

router = APIRouter(tags=["reviews"])
_AUTH = (Unauthorized, NotPermitted)


@router.get("/events/{event_id}/held-selfies", responses=responses(*_AUTH, NotFound))
def list_held_selfies(
    session: SessionDep, user: RequirePhotographer, event_id: uuid.UUID
) -> HeldSelfies:
    """Selfies whose face is another attendee's too: held, unmatched, until reviewed."""
    return service.list_held(session, get_owned_event(session, user, event_id))


@router.post(
    "/events/{event_id}/held-selfies/{selfie_id}/release",
    responses=responses(*_AUTH, NotFound, Conflict),
)
def release_held_selfie(
    session: SessionDep, user: RequirePhotographer, event_id: uuid.UUID, selfie_id: uuid.UUID
) -> ReviewDone:
    """The same face in two accounts is fine here (twins, one person twice): match it."""
    event = get_owned_event(session, user, event_id, for_share=True)
    return service.release(session, event, selfie_id, user)


@router.post(
    "/events/{event_id}/held-selfies/{selfie_id}/refuse",
    responses=responses(*_AUTH, NotFound, Conflict),
)
def refuse_held_selfie(
    session: SessionDep, user: RequirePhotographer, event_id: uuid.UUID, selfie_id: uuid.UUID
) -> ReviewDone:
    """Someone else's face: refuse the selfie and delete its encoding."""
    event = get_owned_event(session, user, event_id, for_share=True)
    return service.refuse(session, event, selfie_id, user)
