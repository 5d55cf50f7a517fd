from __future__ import annotations

from sqlalchemy import text

from core.db import get_engine


def ping_database() -> None:
    """A round trip on a connection of its own (no request session: readiness must not
    wait for the pool's transaction handling)."""
    with get_engine().connect() as connection:
        connection.execute(text("SELECT 1"))
