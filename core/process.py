"""Which process this is: `api`, `worker` or `migrate`.

It names the process's connections (PostgreSQL `application_name`, Redis
`client_name`), which makes `pg_stat_activity` and `CLIENT LIST` readable under
load. The modules that cache a connection register their cache here, so a
change of role before the first connection takes effect.
"""

from __future__ import annotations

import contextlib
import ctypes
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


PR_SET_PDEATHSIG = 1
PR_SET_NAME = 15


def prctl(option: int, value: int | bytes) -> None:
    """Linux's prctl(2) for this process (a process name, a parent-death signal); a no-op
    where libc has none."""
    argument = ctypes.c_char_p(value) if isinstance(value, bytes) else ctypes.c_ulong(value)
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(option, argument, 0, 0, 0)
