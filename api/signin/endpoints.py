from __future__ import annotations

from fastapi import APIRouter, Request

from api import ratelimit
from api.attendees.schemas import Registered
from api.auth.deps import RequireAdmin
from api.deps import RedisDep, SessionDep
from api.errors import (
    BadRequest,
    Conflict,
    ConsentRequired,
    NotFound,
    NotPermitted,
    TooManyRequests,
    Unauthorized,
    responses,
)
from api.signin import service
from api.signin.schemas import (
    LinkIssued,
    LinkSent,
    RedeemLink,
    RegisterWithEventCode,
    SignInLinkRequest,
)

router = APIRouter(tags=["sign-in"])


@router.post(
    "/register-with-event-code",
    status_code=202,
    responses=responses(ConsentRequired, NotFound, Conflict, TooManyRequests),
)
def register_with_event_code(
    session: SessionDep, redis: RedisDep, request: Request, body: RegisterWithEventCode
) -> LinkSent:
    """Join an event by its code, with explicit consent to face matching: a link mailed to
    the address confirms it and signs in (rate-limited per client and per address)."""
    ratelimit.check_sign_in_link(redis, request, body.email)
    return service.request_join(session, body)


@router.post("/sign-in-link", status_code=202, responses=responses(NotFound, TooManyRequests))
def request_sign_in_link(
    session: SessionDep, redis: RedisDep, request: Request, body: SignInLinkRequest
) -> LinkSent:
    """Mail a sign-in link to an attendee who joined (this event, open or closed); the same
    answer for an address that did not (rate-limited per client and per address)."""
    ratelimit.check_sign_in_link(redis, request, body.email)
    return service.request_sign_in(session, body)


@router.post("/sign-in-link/redeem", responses=responses(BadRequest, NotFound, Conflict,
                                                         TooManyRequests))  # fmt: skip
def redeem_sign_in_link(
    session: SessionDep, redis: RedisDep, request: Request, body: RedeemLink
) -> Registered:
    """Spend a mailed link (once, before it expires) for a session on this device."""
    ratelimit.check_link_redemption(redis, request)
    return service.redeem(session, body.token, request.headers.get("user-agent"))


@router.post("/admin/sign-in-links", responses=responses(Unauthorized, NotPermitted, NotFound))
def create_sign_in_link(
    session: SessionDep, admin: RequireAdmin, body: SignInLinkRequest
) -> LinkIssued:
    """Support: a sign-in link for an attendee of an event (or the join link of their
    request to join it, with the consent they gave) when their mail does not arrive."""
    return service.link_for_support(session, admin, body)
