"""The web app's pages. Each is a server-rendered shell; its script talks to the JSON API."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from api.branding import service as branding
from api.deps import SessionDep
from api.events.service import event_for_code, join_url
from api.galleries.service import gallery_event
from api.web import service
from api.web.pages import render
from core.config import settings
from core.models import AuditAction, Event

STATIC_DIR = Path(__file__).parent / "static"
router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)


def _page(request: Request, name: str, status_code: int = 200, **context: object) -> Response:
    return render(request, name, context, status_code)


def _event_for_code(session: SessionDep, request: Request, code: str) -> Event | None:
    """The event with this code. A client that missed too often this minute is refused
    before the lookup: a code has 28 bits, and without a limit they are worth guessing."""
    return event_for_code(session, request, code)


@router.get("/")
def read_home(request: Request) -> Response:
    """Join an event by its code, or sign in."""
    return _page(request, "home.html")


@router.get("/join")
def join_by_code(request: Request, session: SessionDep, code: str = "") -> Response:
    """The home page's code form: on to the event's page, or back with a message."""
    event = _event_for_code(session, request, code)
    if event is None:
        return _page(request, "home.html", status_code=404, code=code, unknown=True)
    return RedirectResponse(f"/e/{event.code}", status_code=303)


@router.get("/e/{code}")
def read_event_page(request: Request, session: SessionDep, code: str) -> Response:
    """The page an event's QR code opens: register, take a selfie, see your photos."""
    event = _event_for_code(session, request, code)
    if event is None:
        return _page(request, "home.html", status_code=404, code=code, unknown=True)
    if event.code != code:
        return RedirectResponse(f"/e/{event.code}", status_code=308)
    return _page(
        request,
        "attendee.html",
        event=event,
        brand=branding.brand(event),
        join_url=join_url(event),
        policy=service.privacy_policy(),
        digest_minutes=settings.DIGEST_INTERVAL_MINUTES,
        max_selfies=settings.MAX_SELFIES_PER_ATTENDEE,
        selfie_upload=event.allows_selfie_upload(),
        gallery_until=event.gallery_expires_at if event.gallery_open() else None,
    )


@router.get("/e/{code}/qr.{kind}", response_class=Response)
def read_event_qr(
    request: Request, session: SessionDep, code: str, kind: Literal["svg", "png"],
    download: bool = False,
) -> Response:  # fmt: skip
    """The QR code of the event's join link, as SVG or PNG."""
    event = _event_for_code(session, request, code)
    if event is None:
        return Response("no event has this code", status_code=404, media_type="text/plain")
    headers = {"Cache-Control": "public, max-age=86400"}
    if download:
        headers["Content-Disposition"] = f'attachment; filename="facematch-{event.code}.{kind}"'
    return Response(
        service.join_qr(event, kind), media_type=service.QR_MEDIA_TYPES[kind], headers=headers
    )


@router.get("/e/{code}/brand.css", response_class=Response)
def read_event_stylesheet(request: Request, session: SessionDep, code: str) -> Response:
    """The event's accent colours as CSS variables: its pages link it (a stylesheet, since
    the Content-Security-Policy allows no inline style)."""
    event = _event_for_code(session, request, code)
    if event is None:
        return Response("/* no event has this code */", status_code=404, media_type="text/css")
    return Response(branding.brand_css(branding.brand(event)), media_type="text/css",
                    headers={"Cache-Control": "public, max-age=300"})  # fmt: skip


@router.get("/login")
def read_login(request: Request) -> Response:
    """Sign in for photographers and admins."""
    return _page(request, "login.html")


@router.get("/studio")
def read_studio(request: Request) -> Response:
    """A photographer's events, and a form to create one."""
    return _page(request, "studio.html")


@router.get("/studio/events/{event_id}")
def read_studio_event(request: Request, event_id: uuid.UUID) -> Response:
    """One event: its QR code, bulk upload, indexing progress, photos and matching."""
    return _page(request, "event.html", event_id=event_id,
                 retention_days=settings.EVENT_RETENTION_DAYS)  # fmt: skip


@router.get("/admin")
def read_admin(request: Request) -> Response:
    """Users, events, queues and workers."""
    return _page(request, "admin.html", audit_actions=[a.value for a in AuditAction])


@router.get("/reset-password")
def read_reset_password(request: Request) -> Response:
    """Set a new password with a link an admin made (its token is in the URL's fragment,
    which the browser never sends)."""
    return _page(request, "reset.html")


@router.get("/me")
def read_my_events(request: Request) -> Response:
    """Every event an attendee joined (across events), with their photos' counts."""
    return _page(request, "me.html")


@router.get("/signin")
def read_sign_in_link(request: Request) -> Response:
    """Where a mailed sign-in link lands: its script spends the token (in the URL's
    fragment, which the browser never sends, nor a mail scanner's prefetch)."""
    return _page(request, "signin.html")


@router.get("/delete-account")
def read_delete_account(request: Request) -> Response:
    """Where a mailed account-deletion link lands: a button spends its token (in the URL's
    fragment: a GET alone deletes nothing)."""
    return _page(request, "delete-account.html")


@router.get("/unsubscribe/{token}")
def read_unsubscribe(request: Request, token: str) -> Response:
    """A digest mail's footer link: one button stops the mails (a GET alone changes
    nothing, so a link scanner cannot unsubscribe anyone)."""
    return _page(request, "unsubscribe.html", token=token)


@router.get("/bib")
def read_bib_pass(request: Request) -> Response:
    """Where a mailed bib pass lands: its script reads the photos of the pass's bib (the
    token is in the URL's fragment, which the browser never sends)."""
    return _page(request, "bib.html", code=None, bib=None, brand=None)


@router.get("/e/{code}/bib/{bib}")
def read_bib_search(request: Request, session: SessionDep, code: str, bib: str) -> Response:
    """A bib's photos where the event's bib search is open: found by the number, no face."""
    event = _event_for_code(session, request, code)
    if event is None:
        return _page(request, "home.html", status_code=404, code=code, unknown=True)
    return _page(request, "bib.html", code=event.code, bib=bib, event=event,
                 brand=branding.brand(event))  # fmt: skip


@router.get("/g/{token}")
def read_gallery_page(request: Request, session: SessionDep, token: str) -> Response:
    """An event's browse-all gallery, behind its password (the photos come from the API)."""
    event = gallery_event(session, token)
    if event is None:
        return _page(request, "home.html", status_code=404, gallery_gone=True)
    return _page(request, "gallery.html", event=event, brand=branding.brand(event), token=token)


@router.get("/privacy")
def read_privacy(request: Request) -> Response:
    """What facematch does with faces, how long it keeps them, and how to delete them."""
    return _page(request, "privacy.html", policy=service.privacy_policy())
