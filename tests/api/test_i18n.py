"""The attendee pages and mails in the attendee's language (api/i18n.py).

The catalogues are complete (every entry translated, its placeholders and tags kept),
nothing an attendee reads is left outside them (the templates' text and the scripts'
strings are read from the source), the language is negotiated from Accept-Language and
chosen by the switcher, and mails go in the language the attendee used."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from fastapi.testclient import TestClient
from sqlmodel import Session

from api import i18n
from core.models import Attendee
from tests.helpers import create_event, create_user, link_token, mailed

WEB = Path(i18n.__file__).parent / "web"
ATTENDEE_PAGES = ["attendee.html", "bib.html", "gallery.html", "me.html", "signin.html",
                  "unsubscribe.html", "delete-account.html", "home.html", "privacy.html",
                  "_policy.html", "_brand.html", "base.html"]  # fmt: skip
ATTENDEE_SCRIPTS = ["app.js", "attendee.js", "live.js", "bib.js", "gallery.js", "me.js",
                    "signin.js", "unsubscribe.js", "delete-account.js", "nav.js"]  # fmt: skip
MAILS = ["sign_in", "digest", "bib_pass", "face_reused", "delete_account"]
PLACEHOLDERS = re.compile(r"%\(\w+\)s|\{\w+\}|<[^>]+>")


@pytest.mark.parametrize("language", [code for code in i18n.LANGUAGES if code != i18n.DEFAULT])
def test_every_catalogue_entry_is_translated_with_its_placeholders_and_tags(language: str) -> None:
    with (i18n.LOCALES / "messages.pot").open("rb") as pot:
        wanted = {m.id for m in read_po(pot) if m.id}
    with (i18n.LOCALES / language / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po, locale=language)
    found = {m.id: m for m in catalog if m.id}
    assert wanted <= set(found), f"run `python -m devtools.catalogues`: {wanted - set(found)}"
    for key, message in found.items():
        assert not message.fuzzy, key
        ids = key if isinstance(key, tuple) else (key,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        assert all(strings), f"untranslated in {language}: {key!r}"
        for text in strings:
            assert sorted(PLACEHOLDERS.findall(text)) == sorted(PLACEHOLDERS.findall(ids[-1])), (
                f"{language} changes the placeholders or tags of {key!r}"
            )


class _Text(HTMLParser):
    """The text an attendee reads in a template with its Jinja removed."""

    def __init__(self) -> None:
        super().__init__()
        self.words: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self.hidden += 1
        for name, value in attrs:
            if name in ("alt", "title", "aria-label", "placeholder") and value:
                self.words.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.hidden -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden and data.strip():
            self.words.append(data.strip())


def _outside_catalogues(source: str) -> list[str]:
    stripped = re.sub(r"\{%-?\s*trans\b.*?\{%-?\s*endtrans\s*-?%\}", " ", source, flags=re.S)
    stripped = re.sub(r"\{#.*?#\}", " ", stripped, flags=re.S)
    stripped = re.sub(r"\{%.*?%\}|\{\{.*?\}\}", " ", stripped, flags=re.S)
    parser = _Text()
    parser.feed(stripped)
    names = {"facematch", "K7Q-4MZ"}  # the product's name, a code's example
    words = [re.sub(r"[\s·…|]+", " ", w).strip() for w in parser.words]
    return [w for w in words if re.search(r"[A-Za-z]{2}", w) and w not in names]


@pytest.mark.parametrize("page", ATTENDEE_PAGES)
def test_no_text_of_an_attendee_page_is_left_outside_the_catalogues(page: str) -> None:
    assert _outside_catalogues((WEB / "templates" / page).read_text()) == []


@pytest.mark.parametrize("mail", MAILS)
def test_no_text_of_an_attendee_mail_is_left_outside_the_catalogues(mail: str) -> None:
    folder = Path(i18n.__file__).parent / "mail" / "templates"
    assert _outside_catalogues((folder / f"{mail}.html").read_text()) == []
    text = (folder / f"{mail}.txt").read_text().replace("Subject:", "")
    assert _outside_catalogues(text) == []


def test_the_check_finds_a_string_left_outside() -> None:
    assert _outside_catalogues("<p>{% trans %}Kept{% endtrans %} Forgotten words</p>") == [
        "Forgotten words"
    ]
    assert _outside_catalogues('<img alt="A forgotten label">') == ["A forgotten label"]


STRING = re.compile(r"""(["'`])([^"'`\n]*)\1""")
PROSE = re.compile(r"^[A-Z][a-z']*( [^ (){}=;$/]+)+$")
"""A string a person reads: a capital, then words (not a class list, a path or code)."""


def _prose_outside_t(source: str) -> list[str]:
    code = "\n".join(line for line in source.splitlines() if not line.strip().startswith("//"))
    found = []
    for match in STRING.finditer(code):
        if not PROSE.match(match.group(2)):
            continue
        if re.search(r"(?<![\w.])t\($", code[max(0, match.start() - 3) : match.start()]):
            continue
        found.append(match.group(2))
    return found


@pytest.mark.parametrize("script", ATTENDEE_SCRIPTS)
def test_no_string_of_an_attendee_script_is_left_outside_the_catalogues(script: str) -> None:
    assert _prose_outside_t((WEB / "static" / script).read_text()) == []


def test_the_script_check_finds_a_string_left_outside() -> None:
    assert _prose_outside_t('toast(t("Kept here")); toast("Left out here");') == ["Left out here"]


def test_every_error_the_pages_translate_is_one_the_api_gives() -> None:
    """`ERRORS` in app.js is keyed by the API's codes (and the kinds of error that have
    none): a key the API never sends is a refusal left in English."""
    script = (WEB / "static" / "app.js").read_text()
    block = script[
        script.index("const ERRORS = {") : script.index("};", script.index("const ERRORS = {"))
    ]
    keys = re.findall(r"^  (\w+): t\(", block, re.MULTILINE)
    assert len(keys) >= 30
    source = "\n".join(path.read_text() for path in Path(i18n.__file__).parent.rglob("*.py"))
    said = set(re.findall(r'"(\w+)"', source))  # codes, and the kinds of error (`_body`)
    assert [key for key in keys if key not in said] == []


def test_the_language_comes_from_the_browser_and_the_switcher_keeps_its_choice(
    client: TestClient, session: Session
) -> None:
    event = create_event(session, owner=create_user(session), name="Fête du port")
    french = client.get(
        f"/e/{event.code}", headers={"Accept-Language": "fr-CH, fr;q=0.9, en;q=0.8"}
    )
    assert '<html lang="fr">' in french.text
    assert "Rejoignez l'événement pour trouver vos photos" in french.text
    carried = french.text.split('id="messages">', 1)[1].split("</script>", 1)[0]
    assert json.loads(carried)["Download"] == "Télécharger", "the scripts' strings ride along"
    german = client.get(f"/e/{event.code}", headers={"Accept-Language": "de-DE, de;q=0.9"})
    assert '<html lang="en">' in german.text and "Join to find your photos" in german.text

    chosen = client.get(f"/e/{event.code}?lang=es", headers={"Accept-Language": "fr"})
    assert '<html lang="es">' in chosen.text and "Únete para encontrar tus fotos" in chosen.text
    assert chosen.cookies.get(i18n.COOKIE) == "es"
    kept = client.get("/privacy", headers={"Accept-Language": "fr"})
    assert '<html lang="es">' in kept.text and "Privacidad y conservación" in kept.text
    switcher = kept.text.split('class="languages"', 1)[1].split("</nav>", 1)[0]
    assert 'href="?lang=fr"' in switcher and 'aria-current="true">Español' in switcher
    staff = client.get("/studio", headers={"Accept-Language": "fr"})
    assert '<html lang="en">' in staff.text and 'class="languages"' not in staff.text


def test_mails_go_in_the_language_the_attendee_used(client: TestClient, session: Session) -> None:
    event = create_event(session, owner=create_user(session), name="Fête du port")
    body = {"event_code": event.code, "email": "zoe@example.com", "name": "Zoé",
            "consent": True, "locale": "fr"}  # fmt: skip
    assert client.post("/api/register-with-event-code", json=body).status_code == 202
    [joining] = mailed("zoe@example.com")
    assert joining.subject == "Confirmez votre e-mail pour trouver vos photos à Fête du port"
    assert 'lang="fr"' in joining.html
    link = next(u for u in joining.links if "/signin#" in u)
    redeemed = client.post("/api/sign-in-link/redeem", json={"token": link_token(link)}).json()
    session.expire_all()
    attendee = session.get(Attendee, redeemed["attendee_id"])
    assert attendee is not None and attendee.locale == "fr"

    headers = {"Authorization": f"Bearer {redeemed['access_token']}"}
    assert client.put("/api/me/locale", headers=headers, json={"locale": "es"}).status_code == 200
    assert client.put("/api/me/locale", headers=headers, json={"locale": "xx"}).status_code == 422
    asked = client.post("/api/sign-in-link", json={"email": "zoe@example.com",
                                                   "event_code": event.code})  # fmt: skip
    assert asked.status_code == 202
    assert mailed("zoe@example.com", count=2)[0].subject == (
        "Tu enlace de inicio de sesión para Fête du port"
    ), "no language asked: the attendee's own"
