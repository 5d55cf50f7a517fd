"""Text typed by a person that ends up in a mail, a page or a log line: one line of it,
or a few paragraphs; and bib numbers, as typed, listed or read from a photo."""

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


def paragraphs(value: str) -> str:
    """Lines of text (a welcome message): line breaks kept as LF, at most two in a row;
    any other control character, separator or bidirectional override refused."""
    lines = value.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    kept = [one_line(line) or "" for line in lines]
    text = "\n".join(kept).strip()
    while "\n\n\n" in text:
        text = text.replace("\n\n\n", "\n\n")
    return text


Paragraphs = Annotated[str, AfterValidator(paragraphs)]
"""A few lines of text a person wrote for others to read."""

BIB_MAX_DIGITS = 6


def bib_number(text: str) -> str | None:
    """A bib as stored and compared: its digits without leading zeros ("0042" and "#42" are
    42); None if it is not 1 to BIB_MAX_DIGITS digits. The worker's reads, the start list
    and what a runner types all go through it."""
    digits = text.strip().removeprefix("#").strip()
    if not (0 < len(digits) <= BIB_MAX_DIGITS and digits.isascii() and digits.isdigit()):
        return None
    return str(int(digits))
