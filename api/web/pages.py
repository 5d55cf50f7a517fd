"""The Jinja2 templates every HTML page renders with (the web app's, and local mode's mail
catcher), with gettext for the attendee pages' languages (api/i18n.py)."""

from __future__ import annotations

from pathlib import Path

from fastapi import Request, Response
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader

from api import i18n

_pages = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    extensions=["jinja2.ext.i18n"],
)
_pages.install_null_translations(newstyle=True)  # type: ignore[attr-defined]  # English by default
templates = Jinja2Templates(env=_pages)


def render(request: Request, name: str, context: dict[str, object], status_code: int = 200
           ) -> Response:  # fmt: skip
    """A page in the language its visitor chose or their browser prefers; a `?lang=`
    choice is kept in a cookie for the next pages."""
    locale = i18n.locale_of(request)
    response = templates.TemplateResponse(
        request, name, {**i18n.template_context(locale), **context}, status_code=status_code
    )
    if i18n.chosen(request.query_params.get("lang")):
        response.set_cookie(i18n.COOKIE, locale, max_age=i18n.COOKIE_SECONDS, samesite="lax",
                            secure=request.url.scheme == "https")  # fmt: skip
    return response
