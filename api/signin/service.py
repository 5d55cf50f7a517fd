"""Attendees sign in by links mailed to them: no password to invent for a one-off event.

- Joining mails a `join` link that carries the registration (name, consent, opt-in): the
  account and the attendance are made only when the owner of the address opens it.
- A returning attendee asks for a `sign_in` link by email, open or closed event alike,
  as long as their data exists.
- A link works once, for SIGN_IN_LINK_MINUTES; only its token's SHA-256 is stored.
  Whether an address has an account shows in no answer: the same 202 either way.
- Opening it posts the token from the page's script (it is in the URL's fragment, which
  browsers do not send): a mail scanner that prefetches links spends nothing.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.attendees import repository as attendee_repository
from api.attendees.schemas import Registered
from api.attendees.service import record_consent, set_notify
from api.auth import repository as auth_repository
from api.auth.security import new_link_token, token_digest
from api.auth.service import start_session
from api.branding import service as branding
from api.errors import BadRequest, ConsentRequired, NotFound
from api.events import service as events
from api.links import public_url
from api.mail.service import queue_mail
from api.signin import repository
from api.signin.schemas import LinkIssued, LinkSent, RegisterWithEventCode, SignInLinkRequest
from core import audit
from core.config import settings
from core.models import (
    Attendee,
    AuditAction,
    EmailKind,
    Event,
    Role,
    SignInLink,
    SignInLinkPurpose,
    User,
    utcnow,
)

log = logging.getLogger(__name__)


def _event(session: Session, typed_code: str, *, for_share: bool = False) -> Event:
    # FOR SHARE: a deletion waits for this registration, or its code is not found.
    event = events.get_event_by_code(session, typed_code, for_share=for_share)
    if event is None:
        raise NotFound("no event has this code", code="event_not_found")
    return event


def _issue(session: Session, link: SignInLink) -> str:
    """Store the link (its token's digest only) and give its URL, once."""
    token, link.token_sha256 = new_link_token()
    link.created_at = utcnow()
    link.expires_at = link.created_at + timedelta(minutes=settings.SIGN_IN_LINK_MINUTES)
    session.add(link)
    return sign_in_url(token)


def _mail_link(session: Session, link: SignInLink, event: Event | None) -> LinkSent:
    url = _issue(session, link)
    queue_mail(session, kind=EmailKind.sign_in, to=link.email, template="sign_in",
               event_id=event.id if event else None, expires_at=link.expires_at,
               joining=link.purpose == SignInLinkPurpose.joining,
               # Anyone may type a name and any address: a name goes only to an address
               # that has confirmed it is its owner's (no text of a stranger's choosing).
               name=None if link.purpose == SignInLinkPurpose.joining else link.full_name,
               event_name=event.name if event else None, link=url,
               brand=branding.mail_brand(event), locale=link.locale,
               minutes=settings.SIGN_IN_LINK_MINUTES)  # fmt: skip
    return LinkSent(expires_in_minutes=settings.SIGN_IN_LINK_MINUTES)


def sign_in_url(token: str) -> str:
    return public_url(f"/signin#{token}")


def new_sign_in_link(session: Session, attendee: Attendee, email: str) -> str:
    """A sign-in link for a mail the platform sends on its own (a digest)."""
    token, digest = new_link_token()
    expires = utcnow() + timedelta(minutes=settings.SIGN_IN_LINK_MINUTES)
    session.add(SignInLink(email=email, token_sha256=digest, purpose=SignInLinkPurpose.sign_in,
                           event_id=attendee.event_id, expires_at=expires))  # fmt: skip
    return sign_in_url(token)


def request_join(session: Session, body: RegisterWithEventCode) -> LinkSent:
    """Mail a link that confirms the address and completes the registration."""
    if body.consent is not True:
        raise ConsentRequired("face matching needs your explicit consent", code="consent_required")
    event = events.require_open(_event(session, body.event_code, for_share=True))
    email = body.email.lower()
    link = SignInLink(email=email, purpose=SignInLinkPurpose.joining, event_id=event.id,
                      full_name=body.name, consent_policy_version=settings.CONSENT_POLICY_VERSION,
                      notify=body.notify, token_sha256="", expires_at=utcnow(),
                      locale=body.locale)  # fmt: skip
    user = auth_repository.get_user_by_email(session, email)
    if user is not None and (user.role != Role.attendee or not user.is_active):
        # Staff sign in with passwords; a deactivated account stays out. Same answer.
        return LinkSent(expires_in_minutes=settings.SIGN_IN_LINK_MINUTES)
    return _mail_link(session, link, event)


def request_sign_in(session: Session, body: SignInLinkRequest) -> LinkSent:
    """Mail a sign-in link if the address has joined (this event, when one is named)."""
    event = _event(session, body.event_code) if body.event_code else None
    sent = LinkSent(expires_in_minutes=settings.SIGN_IN_LINK_MINUTES)
    user = auth_repository.get_user_by_email(session, body.email)
    if user is None or user.role != Role.attendee or not user.is_active:
        return sent
    attendee = (
        attendee_repository.get_attendee(session, user.id, event.id)
        if event
        else auth_repository.latest_attendee(session, user.id)
    )
    if attendee is None:
        return sent
    event = event or events.get_event(session, attendee.event_id)
    link = SignInLink(email=user.email, purpose=SignInLinkPurpose.sign_in,
                      event_id=attendee.event_id, token_sha256="", expires_at=utcnow(),
                      locale=body.locale or attendee.locale)  # fmt: skip
    return _mail_link(session, link, event)


def link_for_support(session: Session, admin: User, body: SignInLinkRequest) -> LinkIssued:
    """An admin's link for an attendee whose mail does not arrive (and for load tests):
    a sign-in link if they joined the event, or the join link of their latest request to
    join it, carrying the consent they gave in that request; never a consent of its own."""
    event = _event(session, body.event_code or "")
    user = auth_repository.get_user_by_email(session, body.email)
    if user is not None and (user.role != Role.attendee or not user.is_active):
        raise NotFound("this address is not an attendee's", code="not_registered")
    attendee = attendee_repository.get_attendee(session, user.id, event.id) if user else None
    if attendee is not None:
        link = SignInLink(email=user.email, purpose=SignInLinkPurpose.sign_in,  # type: ignore[union-attr]
                          event_id=event.id, token_sha256="", expires_at=utcnow())  # fmt: skip
    else:
        asked = repository.latest_join_request(session, body.email.lower(), event.id)
        if asked is None:
            raise NotFound("this address has not asked to join this event", code="not_registered")
        link = SignInLink(email=asked.email, purpose=SignInLinkPurpose.joining, event_id=event.id,
                          full_name=asked.full_name, notify=asked.notify,
                          consent_policy_version=asked.consent_policy_version,
                          token_sha256="", expires_at=utcnow())  # fmt: skip
    link.issued_by = admin.id
    # A support link signs someone in without their mailbox: each one is on the record.
    audit.record(session, AuditAction.support_link_issued, event_id=event.id,
                 subject_id=attendee.id if attendee else None, actor=f"admin:{admin.id}",
                 reason=link.purpose.value)  # fmt: skip
    log.info("admin issued a %s link for event %s", link.purpose.value, event.id)
    url = _issue(session, link)
    return LinkIssued(url=url, expires_at=link.expires_at)


def redeem(session: Session, token: str, user_agent: str | None) -> Registered:
    """Spend a link for a session. A used, expired or unknown link is a 400 with a code
    the page explains."""
    link = repository.link_by_digest(session, token_digest(token))
    if link is None:
        raise BadRequest("this sign-in link is not valid", code="invalid_link")
    if link.used_at is not None:
        raise BadRequest("this sign-in link was used already: ask for a new one", code="link_used")
    if link.expires_at <= utcnow():
        raise BadRequest("this sign-in link has expired: ask for a new one", code="link_expired")
    link.used_at = utcnow()
    session.add(link)
    event = events.live_event(session, link.event_id, for_share=True) if link.event_id else None
    if event is None:
        raise NotFound("this event no longer exists", code="event_not_found")
    user = _user_for(session, link)
    attendee = attendee_repository.get_attendee(session, user.id, event.id)
    if link.purpose == SignInLinkPurpose.joining:
        attendee = _join(session, link, user, event, attendee)
    if attendee is None:
        raise NotFound("this account has not joined this event", code="not_registered")
    if link.locale:  # the language the link was asked for in: the attendee's mails' from now
        attendee.locale = link.locale
        session.add(attendee)
    access = start_session(session, user, attendee.id, user_agent)
    return Registered(access_token=access, attendee_id=attendee.id, event_id=event.id,
                      event_code=event.code)  # fmt: skip


def _user_for(session: Session, link: SignInLink) -> User:
    user = auth_repository.get_user_by_email(session, link.email)
    if user is None and link.purpose == SignInLinkPurpose.joining:
        user = User(email=link.email, full_name=link.full_name, role=Role.attendee)
        session.add(user)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:  # a second join link of the address, opened at the same moment
            user = auth_repository.get_user_by_email(session, link.email)
    if user is None or user.role != Role.attendee or not user.is_active:
        raise BadRequest("this sign-in link is not valid", code="invalid_link")
    return user


def _join(
    session: Session, link: SignInLink, user: User, event: Event, attendee: Attendee | None
) -> Attendee:
    """The attendance the join link confirms, with the consent given when it was asked for."""
    if attendee is None:
        events.require_open(event, closed="this event closed before the link was opened")
        attendee = Attendee(user_id=user.id, event_id=event.id, consented_at=link.created_at,
                            consent_policy_version=link.consent_policy_version or "")  # fmt: skip
        session.add(attendee)
        session.flush()
        record_consent(session, attendee, support=link.issued_by)
    elif link.consent_policy_version not in (None, attendee.consent_policy_version):
        attendee.consented_at = link.created_at
        attendee.consent_policy_version = link.consent_policy_version
        record_consent(session, attendee, support=link.issued_by)
    if link.notify and not attendee.notify:
        set_notify(attendee, True)
    session.add(attendee)
    return attendee


SPENT_LINKS_KEPT_DAYS = 1


def purge_expired(session: Session) -> int:
    """Links expired SPENT_LINKS_KEPT_DAYS ago (the reconciler's pass)."""
    return repository.delete_expired_before(
        session, utcnow() - timedelta(days=SPENT_LINKS_KEPT_DAYS)
    )
