from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from api.auth.deps import RequirePhotographer
from api.deps import Cursor, SessionDep, SnapshotDep
from api.errors import Conflict, NotFound, NotPermitted, Unauthorized, responses
from api.events import service
from api.events.schemas import (
    DeletionAccepted,
    EventCreate,
    EventDetail,
    EventPublic,
    EventsPublic,
    EventUpdate,
    RematchAccepted,
)

router = APIRouter(tags=["events"])
_AUTH = (Unauthorized, NotPermitted)


@router.post("/events", status_code=201, responses=responses(*_AUTH, Conflict))
def create_event(session: SessionDep, user: RequirePhotographer, body: EventCreate) -> EventPublic:
    """Create an event; it gets a short code and a join link for its QR code."""
    return service.to_public(service.create_event(session, user, body))


@router.get("/events", responses=responses(*_AUTH))
def list_events(
    session: SnapshotDep,
    user: RequirePhotographer,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> EventsPublic:
    """The caller's events, newest first, a page at a time; every event for an admin."""
    return service.list_events(session, user, cursor=cursor, limit=limit)


@router.get("/events/{event_id}", responses=responses(*_AUTH, NotFound))
def read_event(session: SnapshotDep, user: RequirePhotographer, event_id: uuid.UUID) -> EventDetail:
    """An event with its indexing and matching progress (its contributors see it too)."""
    event = service.get_event_for_contributor(session, user, event_id)
    return service.read_event(session, event, role=service.role_in(user, event))


@router.patch("/events/{event_id}", responses=responses(*_AUTH, NotFound))
def update_event(
    session: SessionDep, user: RequirePhotographer, event_id: uuid.UUID, body: EventUpdate
) -> EventPublic:
    """Rename, close or re-tune an event; a new tolerance triggers a rematch."""
    event = service.get_owned_event(session, user, event_id, for_update=True)
    return service.to_public(service.update_event(session, event, body))


@router.delete("/events/{event_id}", status_code=202, responses=responses(*_AUTH, NotFound))
def delete_event(
    session: SessionDep, user: RequirePhotographer, event_id: uuid.UUID
) -> DeletionAccepted:
    """Delete the event with everything under it: photos, previews, faces and their
    encodings, selfies, matches and registrations, and the accounts of attendees who
    joined no other event. It is a job: the event says `deleting` until it is gone."""
    event = service.get_owned_event(session, user, event_id, for_update=True)
    return service.request_deletion(session, event, f"{user.role.value}:{user.id}")


@router.post(
    "/photographer/events/{event_id}/rematch",
    status_code=202,
    responses=responses(*_AUTH, NotFound),
)
def rematch_own_event(
    session: SessionDep, user: RequirePhotographer, event_id: uuid.UUID
) -> RematchAccepted:
    """Recompute the event's matches from stored encodings."""
    event = service.get_owned_event(session, user, event_id, for_update=True)
    return service.request_rematch(session, event)
