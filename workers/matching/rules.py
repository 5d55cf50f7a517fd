"""The matching rules in Python, over each face's nearest attendee: the brute-force
reference the incremental SQL is checked against (tests/workers/test_matching.py,
`make bench-scale`), and what a tolerance would do to an event's matches."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlmodel import Session

from workers.matching import lookalikes
from workers.matching import statements as sql
from workers.matching.regroup import fetch_binary, lookalike_flags


def reference_matches(
    session: Session, event_id: uuid.UUID, tolerance: float, margin: float
) -> set[tuple[uuid.UUID, uuid.UUID, uuid.UUID, float]]:
    """(attendee, photo, face, distance) of every match the rules give, by brute force."""
    reach = tolerance + max(margin, lookalikes.GROUP_SLACK)
    params = sql.params(event_id, tolerance, margin, reach=reach)
    return decide(session.connection().execute(sql.REFERENCE, params).all(), tolerance, margin)


def decide(
    rows: Sequence[Any], tolerance: float, margin: float
) -> set[tuple[uuid.UUID, uuid.UUID, uuid.UUID, float]]:
    """The rules over each face's nearest attendee, as rows (attendee, face, photo,
    distance, runner-up distance, encoding, weak-face penalty, may be matched) sorted by
    attendee: (attendee, photo, face, distance) of every match."""
    grouped = [r for r in rows if r[3] <= lookalikes.scope(tolerance)]
    lookalike = {face for face, flag in lookalike_flags(grouped, tolerance) if flag}
    best: dict[tuple[uuid.UUID, uuid.UUID], tuple[float, uuid.UUID]] = {}
    for attendee, face, photo, distance, runner_up, _, penalty, allowed in rows:
        if (
            allowed
            and face not in lookalike
            and distance <= tolerance - penalty
            and (runner_up is None or runner_up - distance >= margin)
        ):
            best[(attendee, photo)] = min(best.get((attendee, photo), (distance, face)),
                                          (distance, face))  # fmt: skip
    return {(a, p, f, d) for (a, p), (d, f) in best.items()}


def preview_tolerance(
    session: Session, event_id: uuid.UUID, tolerance: float, margin: float
) -> dict[str, object]:
    """What the event's matches would be at `tolerance`, from the kept nearest attendees
    (no face is compared with a selfie), against the matches it has now: counts, and each
    attendee's photos now and then. Nothing is written."""
    params = sql.params(event_id, tolerance, margin, scope=lookalikes.scope(tolerance))
    connection = session.connection()
    then = {(a, p) for a, p, _, _ in decide(fetch_binary(session, sql.KEPT, params),
                                             tolerance, margin)}  # fmt: skip
    now = {(a, p) for a, p in connection.execute(sql.MATCHED_PAIRS, params)}
    counts: dict[str, list[int]] = {}
    for pairs, column in ((now, 0), (then, 1)):
        for attendee, _ in pairs:
            counts.setdefault(str(attendee), [0, 0])[column] += 1
    gained, lost = then - now, now - then
    return {
        "matches_now": len(now),
        "matches_then": len(then),
        "gained": len(gained),
        "lost": len(lost),
        "attendees_affected": len({a for a, _ in gained | lost}),
        "attendees": counts,
    }
