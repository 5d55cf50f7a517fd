"""Every URL the platform hands out (mails, QR codes, support links) is built here, on
FACEMATCH_PUBLIC_URL: the address people reach the platform at, not the one a request
came in on."""

from __future__ import annotations

from core.config import settings


def public_url(path: str) -> str:
    """The public address of `path` (which starts with a slash)."""
    return f"{settings.PUBLIC_URL.rstrip('/')}{path}"
