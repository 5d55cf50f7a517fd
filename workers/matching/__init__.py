"""Matching is SQL over stored encodings: pgvector queries, never a loop over photos.

The rules, at event scale:
- each face goes to at most one attendee: the nearest, if its distance is
  within the event's tolerance and, when a margin is set, the runner-up
  attendee is at least `margin` further away (an ambiguous face goes to nobody);
- a weak face (quality under MATCH_WEAK_QUALITY: tiny, blurred or both) must
  be MATCH_WEAK_PENALTY nearer than the tolerance: weak encodings drift
  towards strangers (loadtest/README.md, "Crowds");
- an attendee's distance to a face is the smallest over their valid selfies;
- an attendee gets each photo at most once, through their best face in it;
- a photo the attendee said "not me" to is never matched to them again;
- a face in a group that is a look-alike's, not the attendee's, is matched to nobody
  (lookalikes.py: each attendee's faces grouped into people).

`rules.reference_matches` states them as one brute-force statement over every face and
selfie pair. The product does not run it: its cost grows as faces x attendees (a
200 k-face event took 200 s). Instead each face's nearest attendee and runner-up
are kept in `face_nearest`, and matches are a filter over those numbers:

- the nearest attendee, exact, when within NEAREST_RADIUS (the loosest tolerance
  plus the largest margin allowed);
- the runner-up, exact, when within MAX_MATCH_MARGIN of the nearest: the only case
  in which the margin rule can turn a match down. Further away, the row may hold
  an older runner-up or none, but never one within MAX_MATCH_MARGIN that is not
  the runner-up. So a new selfie leaves alone the faces it would only be a distant
  runner-up of: most of the faces near a "hub" selfie (one near many strangers).

They are kept up to date as the event changes:

- a photo is indexed: its faces against the event's valid selfies (from MIN_SELFIES up,
  only those a worker's matrix of them finds near: selfie_cache.py);
- a selfie becomes valid: only faces within the radius of it can change, and for
  them the new top two is among the kept two and the newcomer;
- a selfie goes (`forget_attendee`), or "not me": the faces that named that
  attendee (or that photo's faces) against the selfies left;
- a tolerance change: no distance to a selfie, a filter over `face_nearest` after each
  attendee's faces are grouped again (the grouping scope moves with the tolerance).

Whenever one of these changes which faces an attendee is nearest to, or how near, that
attendee's faces are grouped again (`regroup`), the changed flags are written to
`face_nearest.lookalike`, and the (photo, attendee) pairs they move are matched again.

`tests/workers/test_matching.py` and `make bench-scale` check that the two give the
same matches.

Every function recomputes the matches of a set of photos from scratch and
writes only the difference, so running it twice changes nothing and a match
that survives keeps its `created_at`. Each returns what it wrote (`Written`): how many
matches, and the attendees it made a new match for. `announce` marks those attendees as
having news (`attendees.news_since`) in the same transaction: what reacts to a match
being made (digests, the webhook to come) reads the mark instead of polling matches.

The package: this module decides what to recompute; `statements.py` holds every
statement, written out whole; `lookalikes.py` groups an attendee's faces; `rules.py` is
the brute-force reference and a tolerance's preview; `rebuild.py` builds an event's
nearest attendees in bulk; `face_cache.py` and `selfie_cache.py` keep big events in a
worker's memory, on the skeleton of `cache.py`.

Matching within an event is serialized by a transaction-level advisory lock.
Without it, a photo indexed while a selfie is judged could be matched by
neither: each transaction's statement sees only the other's committed rows,
and each commits without the other's. With it, whichever matches second sees
what the first committed. A transaction that takes row locks as well must call
`core.db.lock_matching` first, so that every transaction takes its locks in the
same order; the API's writers of matches take it too.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sqlalchemy import TextClause
from sqlmodel import Session

from core.db import lock_matching
from workers import webhooks
from workers.matching import face_cache, lookalikes, selfie_cache
from workers.matching import statements as sql
from workers.matching.regroup import regroup


@dataclass
class Written:
    """What a matching function wrote: how many matches it inserted or changed, and the
    attendees it made a new match for (their new matches are those whose `created_at` is
    the transaction's)."""

    count: int = 0
    news: set[uuid.UUID] = field(default_factory=set)

    def __iadd__(self, other: Written) -> Written:
        self.count += other.count
        self.news |= other.news
        return self


def _named(session: Session, statement: TextClause, tolerance: float, **params: object) -> set[Any]:
    scoped = {**params, "scope": lookalikes.scope(tolerance)}
    return set(session.connection().execute(statement, scoped).scalars().all())


def _run(
    session: Session,
    statement: TextClause,
    event_id: uuid.UUID,
    tolerance: float,
    margin: float,
    **scope: object,
) -> int:
    """Run a statement (the caller holds the event's matching lock); rows changed."""
    params = sql.params(event_id, tolerance, margin, **scope)
    return session.connection().execute(statement, params).rowcount


def _write(
    session: Session,
    statement: TextClause,
    event_id: uuid.UUID,
    tolerance: float,
    margin: float,
    **scope: object,
) -> Written:
    """Run one of the MATCH_ statements: what it wrote."""
    params = sql.params(event_id, tolerance, margin, **scope)
    count, news = session.connection().execute(statement, params).one()
    written = Written(count, set(news))
    announce(session, written, event_id)
    return written


def announce(session: Session, written: Written, event_id: uuid.UUID | None = None) -> None:
    """A match was made: its attendee has news, in the transaction that made it. Digests
    read the attendees with news (api/digests/), and an event's webhook gets a delivery
    per photo with new matches (workers/webhooks.py). The rows are an event's attendees,
    locked under its matching lock; the digests' reader skips locked rows, so nothing
    waits in a circle."""
    if written.news:
        ids = {"attendee_ids": sorted(written.news)}
        session.connection().execute(sql.MARK_NEWS, ids)
        if event_id is not None and not session.connection().execute(
            sql.HAS_WEBHOOK, {"event_id": event_id}).scalar():  # fmt: skip
            return  # most events have none: their matches are not read again
        webhooks.record_matches(session, session.connection().execute(
            sql.NEW_MATCHES_FOR_WEBHOOKS, ids).all())  # fmt: skip


def _match_moved(
    session: Session,
    event_id: uuid.UUID,
    tolerance: float,
    margin: float,
    moved: set[tuple[uuid.UUID, uuid.UUID]],
    done: Collection[uuid.UUID] = (),
) -> Written:
    """The matches of the (photo, attendee) pairs a regrouping moved, but for the photos
    whose every match is derived again anyway."""
    pairs = [(photo, attendee) for photo, attendee in moved if photo not in done]
    if not pairs:
        return Written()
    photo_ids, attendee_ids = (list(column) for column in zip(*pairs, strict=True))
    return _write(session, sql.MATCH_PAIRS, event_id, tolerance, margin,
                  photo_ids=photo_ids, attendee_ids=attendee_ids)  # fmt: skip


def match_photo(
    session: Session, event_id: uuid.UUID, photo_id: uuid.UUID, tolerance: float, margin: float
) -> Written:
    """Match a newly indexed photo's faces (or those of a photo someone said "not me" to)
    against the event's attendees: their nearest attendees first, then the matches."""
    lock_matching(session, event_id)
    _run(session, sql.NUMBER_PHOTOS, event_id, tolerance, margin, photo_ids=[photo_id])
    by_photo = {"event_id": event_id, "photo_ids": [photo_id]}
    named = _named(session, sql.NAMED_BY_PHOTOS, tolerance, **by_photo)
    cached = selfie_cache.get(event_id)
    near = _selfies_near_photo(session, cached, event_id, photo_id) if cached else None
    if near is None:
        _run(session, sql.NEAREST_OF_PHOTO, event_id, tolerance, margin, photo_id=photo_id)
    else:
        _run(session, sql.NEAREST_OF_PHOTO_SELFIES, event_id, tolerance, margin,
             photo_id=photo_id, selfie_ids=near)  # fmt: skip
    named |= _named(session, sql.NAMED_BY_PHOTOS, tolerance, **by_photo)
    moved = regroup(session, named, tolerance) if named else set()
    written = _write(session, sql.MATCH_PHOTO, event_id, tolerance, margin, photo_id=photo_id)
    written += _match_moved(session, event_id, tolerance, margin, moved, {photo_id})
    return written


def _selfies_near_photo(
    session: Session, cached: selfie_cache.EventSelfies, event_id: uuid.UUID, photo_id: uuid.UUID
) -> list[uuid.UUID] | None:
    """The selfies that can be of the photo's faces' top two: those the worker's matrix of
    the event's selfies finds near a face, and every one the matrix has not seen. None if
    a selfie a bound rests on is gone."""
    connection = session.connection()
    rows = connection.execute(sql.FACES_OF_PHOTO, {"photo_id": photo_id}).all()
    if not rows:
        return []
    faces = np.array([row[1] for row in rows], dtype=np.float32)
    _, selfie_ids, witnesses = cached.pairs(faces, keep_all=rows[0][2])
    params = {"witnesses": witnesses, "event_id": event_id, "selfie_epoch": cached.epoch}
    valid, unseen = connection.execute(sql.WITNESSES_AND_UNSEEN, params).one()
    if valid < len(witnesses):
        return None  # face data deleted since the matrix was read: SQL compares them all
    return list(set(selfie_ids) | set(unseen))


def match_attendee(
    session: Session, event_id: uuid.UUID, attendee_id: uuid.UUID, tolerance: float, margin: float
) -> Written:
    """After a new valid selfie: the faces near it, then the photos they are in.

    The faces are found before the event's matching lock is taken, so that selfies of one
    event are not queued behind each other's scans; under the lock, the photos matched
    since then are scanned too, which is exact: a photo committed after the scan's
    snapshot was numbered after the epoch that snapshot read."""
    connection = session.connection()
    params = sql.params(event_id, tolerance, margin, attendee_id=attendee_id)
    cached = face_cache.get(event_id)
    if cached is None:
        epoch, face_ids, distances = connection.execute(sql.NEAR_ATTENDEE, params).one()
    else:
        selfies = np.array(connection.execute(sql.SELFIES_OF, params).scalars().all())
        candidates = cached.candidates(selfies) if len(selfies) else []
        scope = {**params, "candidates": candidates, "cached_epoch": cached.epoch}
        epoch, face_ids, distances = connection.execute(sql.NEAR_CANDIDATES, scope).one()
    lock_matching(session, event_id)
    if not connection.execute(sql.HAS_VALID_SELFIE, params).scalar_one():
        return Written()  # face data deleted meanwhile
    connection.execute(sql.NUMBER_SELFIES, params)
    named = {attendee_id}  # and every attendee who may lose faces to them
    repaired = set(connection.execute(sql.PHOTOS_NAMING_GONE_SELFIES, params).scalars().all())
    if repaired:
        by_photos = {"event_id": event_id, "photo_ids": list(repaired)}
        named |= _named(session, sql.NAMED_BY_PHOTOS, tolerance, **by_photos)
        connection.execute(sql.NEAREST_NAMING_GONE_SELFIES, params)
        connection.execute(sql.NUMBER_PHOTOS, {**params, "photo_ids": list(repaired)})
        named |= _named(session, sql.NAMED_BY_PHOTOS, tolerance, **by_photos)
    near = dict(zip(face_ids, distances, strict=True))
    # A photo numbered again since ("not me") was seen by the scan already: same distances.
    since = connection.execute(sql.NEAR_ATTENDEE_SINCE, {**params, "epoch": epoch})
    near.update((f, d) for f, d in since)
    merge = {**params, "face_ids": list(near), "distances": list(near.values())}
    if near:
        named |= _named(session, sql.TAKEN_FROM, tolerance, attendee_id=attendee_id,
                        face_ids=merge["face_ids"], distances=merge["distances"])  # fmt: skip
    changed = connection.execute(sql.MERGE_ATTENDEE, merge).all() if near else []
    moved = {(photo, attendee) for photo, attendee in changed}
    moved |= regroup(session, named, tolerance)
    written = Written()
    if repaired:
        written += _write(session, sql.MATCH_PHOTOS, event_id, tolerance, margin,
                          photo_ids=list(repaired))  # fmt: skip
    written += _match_moved(session, event_id, tolerance, margin, moved, repaired)
    return written


def event_of_attendee(session: Session, attendee_id: uuid.UUID) -> uuid.UUID | None:
    """The attendee's event, from their row or, once it is gone, from the faces naming them."""
    params = {"attendee_id": attendee_id}
    return session.connection().execute(sql.EVENT_OF_ATTENDEE, params).scalar_one()


def forget_attendee(
    session: Session, event_id: uuid.UUID, attendee_id: uuid.UUID, tolerance: float, margin: float
) -> Written:
    """After the attendee's selfies are deleted: the faces that named them get their
    nearest attendees from the selfies left (the attendee's new ones too, if any), and
    their photos' matches are derived again. Only those faces can change; a whole
    event's rematch would hold the event's lock for seconds at a million faces."""
    lock_matching(session, event_id)
    params = sql.params(event_id, tolerance, margin, attendee_id=attendee_id)
    connection = session.connection()
    photos = connection.execute(sql.PHOTOS_NAMING, params).scalars().all()
    if not photos:
        return Written()
    connection.execute(sql.NEAREST_NAMING, params)
    connection.execute(sql.NUMBER_PHOTOS, {**params, "photo_ids": list(photos)})
    named = _named(session, sql.NAMED_BY_PHOTOS, tolerance, event_id=event_id,
                   photo_ids=list(photos))  # fmt: skip
    moved = regroup(session, named, tolerance) if named else set()
    written = _write(session, sql.MATCH_PHOTOS, event_id, tolerance, margin,
                     photo_ids=list(photos))  # fmt: skip
    written += _match_moved(session, event_id, tolerance, margin, moved, set(photos))
    return written


def rematch_attendee(
    session: Session, event_id: uuid.UUID, attendee_id: uuid.UUID, tolerance: float, margin: float
) -> Written:
    """After an attendee consents again (a new policy): the photos whose faces name them,
    matched again. Their nearest attendees were kept meanwhile; only matching paused."""
    lock_matching(session, event_id)
    params = {"event_id": event_id, "attendee_id": attendee_id}
    photo_ids = session.connection().execute(sql.PHOTOS_NAMING, params).scalars().all()
    if not photo_ids:
        return Written()
    return _write(session, sql.MATCH_PHOTOS, event_id, tolerance, margin,
                  photo_ids=list(photo_ids))  # fmt: skip


def rematch_event(
    session: Session, event_id: uuid.UUID, tolerance: float, margin: float
) -> Written:
    """Every match of the event from `face_nearest` (a tolerance change costs no distance),
    after recomputing the faces that named an attendee whose selfies are gone."""
    lock_matching(session, event_id)
    stale = session.connection().execute(sql.PHOTOS_STALE, {"event_id": event_id})
    stale_photos = stale.scalars().all()
    if stale_photos:
        _run(session, sql.NEAREST_STALE, event_id, tolerance, margin)
        _run(session, sql.NUMBER_PHOTOS, event_id, tolerance, margin,
             photo_ids=list(stale_photos))  # fmt: skip
    named = _named(session, sql.NAMED_IN_EVENT, tolerance, event_id=event_id)
    regroup(session, named, tolerance)
    return _write(session, sql.MATCH_EVENT, event_id, tolerance, margin)
