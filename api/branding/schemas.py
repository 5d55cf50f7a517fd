from __future__ import annotations

from sqlmodel import SQLModel


class Brand(SQLModel):
    """An event's brand as its attendee pages and mails show it."""

    name: str
    logo_url: str | None = None
    """The logo, a PNG (public: the event's page shows it to anyone with its code)."""
    welcome_text: str | None = None
    accent: str
    """The accent colour, "#rrggbb": buttons and highlights (the platform's, if unset)."""
    accent_ink: str
    """Text on the accent: black or white, whichever reads better (WCAG contrast)."""
    accent_on_white: str
    """The accent for links and text on white: darkened until its contrast is 4.5:1."""


class LogoStored(SQLModel):
    logo_url: str
    width: int
    height: int
