"""Every list is paged by cursor: walked page by page, it gives each row once, newest first."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlmodel import Session

from core.models import AuditAction, AuditEntry, utcnow
from tests.helpers import create_event, create_photo, create_user, token_headers


def _walk(client: TestClient, path: str, headers: dict[str, str], limit: int,
          **query: str) -> list[dict]:  # type: ignore[type-arg]  # fmt: skip
    rows: list[dict] = []  # type: ignore[type-arg]
    cursor = None
    while True:
        params = {"limit": limit, **query, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["data"]) <= limit
        rows += page["data"]
        cursor = page["next_cursor"]
        if cursor is None:
            assert page["count"] == len(rows), path
            return rows


def test_every_list_walked_page_by_page_gives_each_row_once_latest_first(
    client: TestClient, session: Session
) -> None:
    create_user(session, email="admin@example.com", role="admin")
    headers = token_headers(client, "admin@example.com")
    owner = create_user(session)
    events = [create_event(session, owner=owner) for _ in range(5)]
    # Rows sharing one timestamp: the id breaks the tie, so none is skipped or repeated.
    same = utcnow() - timedelta(minutes=1)
    photos = [create_photo(session, event=events[0], created_at=same) for _ in range(7)]
    photos += [create_photo(session, event=events[0]) for _ in range(4)]
    create_photo(session, event=events[1])  # another event's: not in the list
    for n in range(6):
        session.add(AuditEntry(action=AuditAction.face_encodings_created, event_id=events[n % 2].id,
                               actor="worker", at=same if n < 3 else utcnow()))  # fmt: skip
    session.commit()

    listed = _walk(client, f"/api/events/{events[0].id}/photos", headers, limit=3)
    assert sorted(p["id"] for p in listed) == sorted(str(p.id) for p in photos)
    order = [(p["captured_at"], p["id"]) for p in listed]  # latest taken first
    assert order == sorted(order, reverse=True)

    for path, query, expected in (
        ("/api/events", {}, 5),
        ("/api/admin/users", {}, 2),
        ("/api/admin/audit", {}, 6),
        ("/api/admin/audit", {"event_id": str(events[0].id)}, 3),
    ):
        rows = _walk(client, path, headers, limit=2, **query)
        assert len({row["id"] for row in rows}) == len(rows) == expected, path
        stamps = [row.get("created_at") or row["at"] for row in rows]
        assert stamps == sorted(stamps, reverse=True), path


def test_a_photographer_pages_through_only_their_own_events(
    client: TestClient, session: Session
) -> None:
    mine, theirs = create_user(session), create_user(session)
    for _ in range(3):
        create_event(session, owner=mine)
    create_event(session, owner=theirs)
    rows = _walk(client, "/api/events", token_headers(client, mine.email), limit=2)
    assert {row["owner_id"] for row in rows} == {str(mine.id)}
    assert len(rows) == 3
