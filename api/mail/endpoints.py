"""`/dev/mail`: the mails local mode caught. Mounted in local mode only (api/main.py), and
answered to this machine only: with `--host 0.0.0.0` (phones on the Wi-Fi), everyone on
the network would otherwise read every sign-in link."""

from __future__ import annotations

import ipaddress

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse

from api.errors import NotFound
from api.mail.caught import caught_mails
from api.web.pages import render


def loopback_only(request: Request) -> None:
    """The client (after trusted proxies) is this machine; anyone else gets a 404."""
    host = request.client.host if request.client else ""
    try:
        local = ipaddress.ip_address(host).is_loopback
    except ValueError:
        local = False
    if not local:
        raise NotFound("not found", code="not_found")


router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse,
                   dependencies=[Depends(loopback_only)])  # fmt: skip


@router.get("/dev/mail")
def list_caught_mail(request: Request) -> Response:
    """Every mail the local stack sent, newest first, with its links to click."""
    return render(request, "devmail.html", {"mails": caught_mails()[:200]})


@router.get("/dev/mail/{name}")
def read_caught_mail(name: str) -> Response:
    """One mail's HTML body, as a mail program would show it."""
    for mail in caught_mails():
        if mail.name == name:
            return HTMLResponse(mail.html or f"<pre>{mail.text}</pre>")
    return HTMLResponse("no such mail", status_code=404)
