"""`/dev/mail`: the mails local mode caught. Mounted in local mode only (api/main.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from api.mail.caught import caught_mails
from api.web.endpoints import templates

router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)


@router.get("/dev/mail")
def list_caught_mail(request: Request) -> Response:
    """Every mail the local stack sent, newest first, with its links to click."""
    return templates.TemplateResponse(request, "devmail.html", {"mails": caught_mails()[:200]})


@router.get("/dev/mail/{name}")
def read_caught_mail(name: str) -> Response:
    """One mail's HTML body, as a mail program would show it."""
    for mail in caught_mails():
        if mail.name == name:
            return HTMLResponse(mail.html or f"<pre>{mail.text}</pre>")
    return HTMLResponse("no such mail", status_code=404)
