"""Every list of the API comes in keyset pages: `{data, count, next_cursor}`.

A cursor is the (timestamp, id) of a page's last row, opaque to clients. The next page
is the rows strictly before it in the list's order, which an index on (..., timestamp,
id) gives without reading the rows before: page 1,000 of an event costs what page 1
does (an offset reads and skips every row before it), and a row added meanwhile shifts
no page. The API's own module: workers import `core.db`, never this (it raises the
API's errors).
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import func, literal, tuple_
from sqlmodel import Session, SQLModel, select

from api.errors import BadRequest


def newest_first(
    session: Session,
    query: Any,
    newest: Any,
    ident: Any,
    *,
    cursor: str | None,
    limit: int,
    key: Callable[[Any], tuple[datetime, uuid.UUID]] | None = None,
) -> tuple[list[Any], str | None]:
    """One page of `query`'s rows, newest (by `newest`, then `ident`) first, after
    `cursor`, and the cursor of the next page (None on the last).

    A keyset page: the database walks an index from the cursor on, so page 1,000 of an
    event costs what page 1 does (an offset would read and skip every row before it),
    and a row added meanwhile never shifts a page. `key` gives a row's (newest, ident)
    when the query selects more than one entity."""
    if cursor is not None:
        after = decode_cursor(cursor)
        query = query.where(tuple_(newest, ident) < tuple_(literal(after[0]), literal(after[1])))
    rows = list(session.exec(query.order_by(newest.desc(), ident.desc()).limit(limit + 1)).all())
    if len(rows) <= limit:
        return rows, None
    rows = rows[:limit]
    last = key(rows[-1]) if key else (getattr(rows[-1], newest.key), getattr(rows[-1], ident.key))
    return rows, encode_cursor(*last)


def count_rows(session: Session, model: type[SQLModel], *where: Any) -> int:
    return session.exec(select(func.count()).select_from(model).where(*where)).one()


def encode_cursor(at: datetime, ident: uuid.UUID) -> str:
    raw = f"{at.isoformat()}|{ident}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The position a `next_cursor` names; BadRequest("invalid_cursor") for anything else."""
    try:
        at, ident = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode().split("|")
        position = datetime.fromisoformat(at), uuid.UUID(ident)
    except ValueError as error:  # also binascii.Error and UnicodeDecodeError
        raise BadRequest("not a cursor this API gave", code="invalid_cursor") from error
    if position[0].tzinfo is None:
        raise BadRequest("not a cursor this API gave", code="invalid_cursor")
    return position
