"""An event's photographers: the owner invites contributors by email, and each
photographer's camera clock is corrected so that every photo sits on one timeline.

A contributor is an address. With an active photographer account of that address they
upload to the event, see its counts and their own uploads, and delete their own photos;
they cannot change, close or delete the event, nor see others' photos. Taking the
invitation back keeps their photos (`former`)."""

from __future__ import annotations

import uuid

from sqlmodel import Session

from api.errors import NotFound, NotPermitted
from api.events import service as events
from api.links import public_url
from api.mail.service import queue_mail
from api.photographers import repository
from api.photographers.schemas import (
    ClockCorrected,
    ClockCorrection,
    ContributorInvite,
    Photographer,
    Photographers,
)
from core.models import Contributor, EmailKind, Event, Role, User


def list_photographers(session: Session, event: Event) -> Photographers:
    invited = repository.contributors(session, event.id)
    counts = repository.photos_by_uploader(session, event.id)
    clocks = repository.clocks(session, event.id)
    accounts = repository.users_by_email(session, {c.email for c in invited})
    people = repository.users_by_id(session, {event.owner_id, *counts})
    owner = people.get(event.owner_id)
    data = []
    if owner is not None:
        data.append(_photographer(owner, "owner", counts, clocks))
    listed = {event.owner_id}
    for contributor in invited:
        user = accounts.get(contributor.email)
        if user is not None and user.role not in (Role.photographer, Role.admin):
            user = None  # an attendee's address: no photographer account yet
        row = Photographer(
            email=contributor.email,
            role="contributor",
            user_id=user.id if user else None,
            invited_at=contributor.created_at,
        )
        if user is not None:
            listed.add(user.id)
            row = _photographer(user, "contributor", counts, clocks, contributor)
        data.append(row)
    for user_id in counts.keys() - listed:
        if user_id in people:
            data.append(_photographer(people[user_id], "former", counts, clocks))
    return Photographers(data=data)


def _photographer(
    user: User,
    role: str,
    counts: dict[uuid.UUID, int],
    clocks: dict[uuid.UUID, int],
    contributor: Contributor | None = None,
) -> Photographer:
    return Photographer(
        email=user.email, role=role, user_id=user.id, name=user.full_name,  # type: ignore[arg-type]
        photos=counts.get(user.id, 0), clock_offset_seconds=clocks.get(user.id, 0),
        invited_at=contributor.created_at if contributor else None,
    )  # fmt: skip


def invite(session: Session, event: Event, inviter: User, body: ContributorInvite) -> Photographers:
    """Add the address as a contributor and tell it so by mail (once per address)."""
    events.require_open(event, closed="a closed event takes no more photos")
    email = body.email.lower()
    contributor = Contributor(event_id=event.id, email=email, invited_by=inviter.id)
    if repository.add_contributor(session, contributor):
        queue_mail(
            session,
            kind=EmailKind.notice,
            to=email,
            template="contributor_invite",
            event_id=event.id,
            event_name=event.name,
            inviter=inviter.full_name or inviter.email,
            link=public_url("/login"),
        )
    return list_photographers(session, event)


def remove(session: Session, event: Event, email: str) -> None:
    if not repository.remove_contributor(session, event.id, email.lower()):
        raise NotFound("this address is not a contributor", code="contributor_not_found")


def correct_clock(
    session: Session, event: Event, user: User, photographer_id: uuid.UUID, body: ClockCorrection
) -> ClockCorrected:
    """The owner corrects anyone's clock; a contributor their own."""
    role = events.role_in(user, event)
    if role == "contributor" and photographer_id != user.id:
        raise NotPermitted("a contributor corrects their own clock only", code="not_owner")
    moved = repository.set_clock(session, event.id, photographer_id, body.offset_seconds)
    return ClockCorrected(offset_seconds=body.offset_seconds, photos_moved=moved)
