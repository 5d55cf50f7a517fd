"""The attendee pages and mails in the attendee's language: gettext catalogues.

Every string an attendee reads is in `api/locales/messages.pot`, extracted by Babel from
the templates (`{% trans %}`, `_()`) and the pages' scripts (`t()`):

    uv run pybabel extract -F babel.cfg -o api/locales/messages.pot .
    uv run pybabel update -i api/locales/messages.pot -d api/locales

and translated in `api/locales/<lang>/LC_MESSAGES/messages.po`. The catalogues are read
from the .po files when the API starts (Babel compiles them in memory; there is no .mo to
forget). A page's language is the one its `?lang=` switcher chose (kept in a cookie), else
the best of the browser's `Accept-Language`, else English; an attendee's mails go in the
language they last used. A test fails on a page string left outside the catalogues and on
a catalogue entry left untranslated (tests/api/test_i18n.py).
"""

from __future__ import annotations

import gettext as stdlib_gettext
import io
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, Literal

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from fastapi import Request
from jinja2.ext import _make_new_gettext, _make_new_ngettext  # the newstyle wrappers

LANGUAGES = {"en": "English", "fr": "Français", "es": "Español"}
Language = Literal["en", "fr", "es"]
"""One of LANGUAGES, as a request body names it."""
"""The languages the attendee pages and mails are in, by their own names."""
DEFAULT = "en"
LOCALES = Path(__file__).parent / "locales"
COOKIE = "lang"
COOKIE_SECONDS = 365 * 24 * 3600


@cache
def translations(locale: str) -> stdlib_gettext.NullTranslations:
    if locale == DEFAULT or locale not in LANGUAGES:
        return stdlib_gettext.NullTranslations()
    with (LOCALES / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=locale)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(compiled)


@cache
def script_messages(locale: str) -> dict[str, str]:
    """The translations of the strings the pages' scripts use (their `t()` calls): the
    page carries them as JSON, so the scripts need no request of their own."""
    if locale == DEFAULT or locale not in LANGUAGES:
        return {}
    with (LOCALES / locale / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=locale)
    return {
        str(m.id): str(m.string)
        for m in catalog
        if m.id and m.string and any(path.endswith(".js") for path, _ in m.locations)
    }


def negotiate(header: str | None) -> str:
    """The best language of an Accept-Language header that the pages are in, else English."""
    ranked: list[tuple[float, int, str]] = []
    for n, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and quality > 0:
            ranked.append((-quality, n, primary))
    return min(ranked)[2] if ranked else DEFAULT


def chosen(value: str | None) -> str | None:
    """A language a person chose (a switcher's `?lang=`, a cookie, a body), if we have it."""
    return value if value in LANGUAGES else None


def locale_of(request: Request) -> str:
    """The page's language: the switcher's choice, else the cookie's, else the browser's."""
    return (
        chosen(request.query_params.get("lang"))
        or chosen(request.cookies.get(COOKIE))
        or negotiate(request.headers.get("accept-language"))
    )


def gettext_for(locale: str) -> Callable[..., str]:
    """`gettext(message, **values)` in `locale`, for text built in Python (mail subjects)."""
    found = translations(locale)

    def translate(message: str, **values: Any) -> str:
        text = found.gettext(message)
        return text % values if values else text

    return translate


def template_context(locale: str) -> dict[str, Any]:
    """What a template needs to speak `locale`: the i18n extension's callables (newstyle:
    values are escaped and formatted by name), the language and the switcher's list."""
    found = translations(locale)
    gettext = _make_new_gettext(found.gettext)
    return {
        "gettext": gettext,
        "_": gettext,
        "ngettext": _make_new_ngettext(found.ngettext),
        "locale": locale,
        "languages": LANGUAGES,
        "script_messages": script_messages(locale),
    }
