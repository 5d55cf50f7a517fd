"""Text typed by a person that ends up in a mail, a page or a log line: one line of it."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

_BIDI_CONTROLS = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
"""Format characters that reorder what follows them (a name that reads backwards)."""


def one_line(value: str | None) -> str | None:
    """The value, if it holds no control character (CR, LF, tab, NUL...), line or paragraph
    separator (U+2028, U+2029) or bidirectional override; spaces around it are trimmed.
    A lone CR in an event's name made every mail about it unbuildable."""
    if value is None:
        return None
    for char in value:
        if unicodedata.category(char) in ("Cc", "Zl", "Zp") or char in _BIDI_CONTROLS:
            raise ValueError(f"must be one line of text, without U+{ord(char):04X}")
    return value.strip()


OneLine = Annotated[str, AfterValidator(one_line)]
"""A name or title: one line, no control characters."""
