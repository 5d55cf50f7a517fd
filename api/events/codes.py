"""Short event codes people can read aloud and type on a phone: `K7Q-4MZ`.

The alphabet leaves out look-alikes (0/O, 1/I/L, 2/Z, 5/S, 8/B).
"""

from __future__ import annotations

import re
import secrets

ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
LENGTH = 6
_NOT_CODE = re.compile(r"[^A-Z0-9]")


def new_code() -> str:
    raw = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
    return f"{raw[:3]}-{raw[3:]}"


def normalize_code(text: str) -> str | None:
    """The canonical form of what a person typed, or None if it cannot be a code."""
    raw = _NOT_CODE.sub("", text.upper())
    if len(raw) != LENGTH or any(c not in ALPHABET for c in raw):
        return None
    return f"{raw[:3]}-{raw[3:]}"
