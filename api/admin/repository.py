from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlmodel import Session, col, select

from api.pagination import count_rows, newest_first
from core.models import AuditAction, AuditEntry

_THROUGHPUT = text(
    """
    SELECT
      (SELECT count(*) FROM photos WHERE indexed_at >= :since) AS photos_indexed,
      (SELECT count(*) FROM photos WHERE status = 'failed' AND updated_at >= :since)
        AS photos_failed,
      (SELECT count(*) FROM photos WHERE status IN ('pending', 'indexing')) AS photos_waiting,
      (SELECT count(*) FROM faces f JOIN photos p ON p.id = f.photo_id
        WHERE p.indexed_at >= :since) AS faces_found,
      s.done AS selfies_done, s.p50 AS selfie_p50_s, s.p95 AS selfie_p95_s, s.max AS selfie_max_s,
      (SELECT count(*) FROM selfies WHERE status = 'pending') AS selfies_waiting
    FROM (
      SELECT count(*) AS done,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds) AS p50,
        percentile_cont(0.95) WITHIN GROUP (ORDER BY seconds) AS p95,
        max(seconds) AS max
      FROM (
        SELECT extract(epoch FROM updated_at - created_at) AS seconds FROM selfies
        WHERE created_at >= :since AND status IN ('valid', 'rejected')
      ) AS waits
    ) AS s
    """
)


def throughput(session: Session, since: datetime) -> dict[str, Any]:
    """Work finished since a moment; a selfie waits from upload to its verdict and matches."""
    return dict(session.execute(_THROUGHPUT, {"since": since}).mappings().one())


def list_audit(
    session: Session,
    *,
    event_id: uuid.UUID | None,
    action: AuditAction | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[AuditEntry], str | None, int]:
    where = [] if event_id is None else [col(AuditEntry.event_id) == event_id]
    if action is not None:
        where.append(col(AuditEntry.action) == action)
    query = select(AuditEntry).where(*where)
    entries, next_cursor = newest_first(
        session, query, col(AuditEntry.at), col(AuditEntry.id), cursor=cursor, limit=limit
    )
    return entries, next_cursor, count_rows(session, AuditEntry, *where)
