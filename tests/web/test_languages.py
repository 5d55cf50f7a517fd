"""The scripts' counts in the page's language, in Chromium: each language's own rule for
one and many (CLDR's), not English's."""

from __future__ import annotations

from typing import Any

import pytest

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
