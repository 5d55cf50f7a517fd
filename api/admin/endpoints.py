from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.admin import service
from api.admin.schemas import AuditLog, QueueStats, Throughput
from api.auth.deps import RequireAdmin
from api.deps import Cursor, QueueDep, SessionDep, SnapshotDep
from api.errors import BadRequest, Conflict, NotFound, NotPermitted, Unauthorized, responses
from api.events import service as event_service
from api.events.schemas import EventPublic, HandOver, RematchAccepted
from core.models import AuditAction

router = APIRouter(prefix="/admin", tags=["admin"])
_AUTH = (Unauthorized, NotPermitted)


@router.get("/queues", responses=responses(*_AUTH))
def read_queue_stats(_: RequireAdmin, jobs: QueueDep) -> QueueStats:
    """Jobs waiting and failed per queue, and each live worker's state."""
    return service.queue_stats(jobs)


@router.get("/throughput", responses=responses(*_AUTH, BadRequest))
def read_throughput(
    session: SessionDep,
    _: RequireAdmin,
    since: Annotated[
        datetime | None, Query(description="start of the window; the last 15 minutes if omitted")
    ] = None,
) -> Throughput:
    """Photos indexed and selfie latency percentiles since a moment."""
    return service.throughput(session, since)


@router.get("/audit", responses=responses(*_AUTH))
def list_audit_log(
    session: SnapshotDep,
    _: RequireAdmin,
    event_id: uuid.UUID | None = None,
    action: AuditAction | None = None,
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditLog:
    """Every creation and deletion of biometric data, newest first, a page at a time,
    filtered by event and by action; never the data itself."""
    return service.list_audit(session, event_id=event_id, action=action, cursor=cursor, limit=limit)


@router.post("/events/{event_id}/owner", responses=responses(*_AUTH, NotFound, Conflict))
def hand_over_event(
    session: SessionDep, user: RequireAdmin, event_id: uuid.UUID, body: HandOver
) -> EventPublic:
    """Give an event to another photographer (say, before its owner's account is deleted)."""
    event = event_service.get_owned_event(session, user, event_id, for_update=True)
    return event_service.to_public(event_service.hand_over(session, event, body.email))


@router.post("/events/{event_id}/rematch", status_code=202, responses=responses(*_AUTH, NotFound))
def rematch_event(session: SessionDep, user: RequireAdmin, event_id: uuid.UUID) -> RematchAccepted:
    """Recompute any event's matches from stored encodings."""
    event = event_service.get_owned_event(session, user, event_id, for_update=True)
    return event_service.request_rematch(session, event)
