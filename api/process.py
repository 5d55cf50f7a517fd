"""Which process this is: `api`, `worker` or `migrate`.

It names the process's connections (PostgreSQL `application_name`, Redis
`client_name`), which makes `pg_stat_activity` and `CLIENT LIST` readable under
load. The modules that cache a connection register their cache here, so a
change of role before the first connection takes effect.
"""

from __future__ import annotations

from collections.abc import Callable

_role = "api"
_caches: list[Callable[[], None]] = []


def process_role() -> str:
    return _role


def set_process_role(role: str) -> None:
    """Name the process that owns the connections; call before the first connection."""
    global _role
    _role = role
    for clear in _caches:
        clear()


def on_role_change(clear: Callable[[], None]) -> None:
    """Run `clear` (a connection cache's `cache_clear`) when the role changes."""
    _caches.append(clear)
