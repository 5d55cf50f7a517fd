from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from api.auth.deps import CurrentAttendee, RequirePhotographer
from api.deps import SessionDep
from api.errors import BadRequest, Conflict, NotFound, NotPermitted, Unauthorized, responses
from api.events.service import get_owned_event
from api.webhooks import service
from api.webhooks.schemas import (
    DeliveryQueued,
    EmailSharing,
    EmailSharingState,
    WebhookPublic,
    WebhookUpdate,
)

router = APIRouter(tags=["webhooks"])
_AUTH = (Unauthorized, NotPermitted)


@router.get("/events/{event_id}/webhook", responses=responses(*_AUTH, NotFound))
def read_event_webhook(
    session: SessionDep, user: RequirePhotographer, event_id: uuid.UUID
) -> WebhookPublic:
    """The event's webhook: its URL, its signing secret and the latest deliveries."""
    return service.read_webhook(session, get_owned_event(session, user, event_id))


@router.put(
    "/events/{event_id}/webhook", responses=responses(*_AUTH, NotFound, BadRequest, Conflict)
)
def update_event_webhook(
    session: SessionDep, user: RequirePhotographer, event_id: uuid.UUID, body: WebhookUpdate
) -> WebhookPublic:
    """Post `photo.indexed` and `match.created` deliveries to this URL, signed."""
    event = get_owned_event(session, user, event_id, for_update=True)
    return service.set_webhook(session, event, body)


@router.delete("/events/{event_id}/webhook", status_code=204, responses=responses(*_AUTH, NotFound))
def delete_event_webhook(
    session: SessionDep, user: RequirePhotographer, event_id: uuid.UUID
) -> Response:
    """Stop the deliveries; the log and the owed deliveries go."""
    service.delete_webhook(session, get_owned_event(session, user, event_id, for_update=True))
    return Response(status_code=204)


@router.post("/events/{event_id}/webhook/secret", responses=responses(*_AUTH, NotFound, BadRequest))
def rotate_event_webhook_secret(
    session: SessionDep, user: RequirePhotographer, event_id: uuid.UUID
) -> WebhookPublic:
    """A new signing secret, used from the next delivery on."""
    return service.rotate_secret(session, get_owned_event(session, user, event_id, for_update=True))


@router.post(
    "/events/{event_id}/webhook/test",
    status_code=202,
    responses=responses(*_AUTH, NotFound, BadRequest),
)
def send_event_webhook_test(
    session: SessionDep, user: RequirePhotographer, event_id: uuid.UUID
) -> DeliveryQueued:
    """Send a signed `ping` delivery; the log shows how it went."""
    return service.send_test(session, get_owned_event(session, user, event_id))


@router.get("/me/email-sharing", responses=responses(*_AUTH))
def read_my_email_sharing(session: SessionDep, attendee: CurrentAttendee) -> EmailSharingState:
    """Whether the event's organiser learns your email with the photos you are found in."""
    return service.email_sharing(session, attendee)


@router.put("/me/email-sharing", responses=responses(*_AUTH))
def update_my_email_sharing(
    session: SessionDep, attendee: CurrentAttendee, body: EmailSharing
) -> EmailSharingState:
    """Let the event's organiser learn your email with your matches, or stop it."""
    return service.set_email_sharing(session, attendee, body.share_email)
