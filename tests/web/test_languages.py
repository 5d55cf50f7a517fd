"""The scripts' counts and the API's refusals in the page's language, in Chromium: each
language's own rule for one and many (CLDR's), and the catalogue's sentence for each error
code."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlmodel import Session

from tests.helpers import create_user
from tests.web.conftest import Api

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

COUNTS = """async () => {
  const { deletedCounts, plural } = await import('/static/app.js');
  return {
    forms: [0, 1, 2, 1000000].map((n) => plural(n, 'one', 'many')),
    deleted: deletedCounts({ encodings: 0, matches: 1 }),
  };
}"""


@pytest.mark.parametrize(("language", "forms", "deleted"), [
    ("en", ["many", "one", "many", "many"], "0 face encodings and 1 match"),
    ("fr", ["one", "one", "many", "many"], "0 encodage de visage et 1 correspondance"),
    ("es", ["many", "one", "many", "many"], "0 codificaciones faciales y 1 coincidencia"),
])  # fmt: skip
def test_counts_take_the_form_of_the_pages_language(
    phone: Any, language: str, forms: list[str], deleted: str
) -> None:
    phone.set_extra_http_headers({"Accept-Language": language})
    phone.goto("/")
    assert phone.locator("html").get_attribute("lang") == language
    assert phone.evaluate(COUNTS) == {"forms": forms, "deleted": deleted}


ERROR = """async (body) => {
  const { ApiError } = await import('/static/app.js');
  return new ApiError(body.status, body).message;
}"""


@pytest.mark.parametrize(("language", "code", "error", "message"), [
    ("fr", "zips_not_allowed", "NotPermitted", "Le photographe ne propose pas de fichiers zip."),
    ("es", "session_ended", "Unauthorized", "Tu sesión ha terminado: vuelve a entrar."),
    ("fr", None, "ValidationError", "Une valeur saisie n'est pas valide."),
    ("fr", "not_a_code_of_ours", "Conflict", "the API's own sentence"),
    ("fr", "constructor", "Conflict", "the API's own sentence"),
    ("en", "zips_not_allowed", "NotPermitted", "the API's own sentence"),
])  # fmt: skip
def test_the_apis_refusals_read_in_the_pages_language_by_their_code(
    phone: Any, language: str, code: str | None, error: str, message: str
) -> None:
    """An English page keeps the API's sentence (it may say more); another language has
    the catalogue's, by the code; a code it does not know keeps the API's sentence."""
    phone.set_extra_http_headers({"Accept-Language": language})
    phone.goto("/")
    body = {"status": 403, "error": error, "detail": "the API's own sentence", "code": code}
    assert phone.evaluate(ERROR, body) == message


def test_a_wrong_gallery_password_is_refused_in_french(
    phone: Any, api: Api, session: Session
) -> None:
    create_user(session, email="studio@example.com")
    headers = api.login("studio@example.com")
    event = api.create_event(headers, name="Régates du port")
    gallery = api.open_gallery(headers, event, "harbour-regatta")

    phone.set_extra_http_headers({"Accept-Language": "fr-FR,fr;q=0.9"})
    phone.goto(gallery)
    phone.locator("#gallery-form input[name=password]").fill("wrong password")
    phone.locator("#gallery-form button[type=submit]").click()
    expect(phone.locator("#gallery-error")).to_have_text(
        "Mot de passe incorrect pour cette galerie."
    )
