"""The match rule in SQL, on hand-made encodings: what the distances and qualities decide."""

from collections.abc import Iterator

import numpy as np
import pytest
from redis import Redis
from sqlmodel import Session, delete, select

from core.config import settings
from core.models import Attendee, Face, FaceNearest, Match, Selfie, utcnow
from tests.helpers import create_event, create_photo, create_user
from workers import matching
from workers.matching import face_cache, rules, selfie_cache


def _vector(distance: float) -> list[float]:
    """An encoding at exactly `distance` from the all-zero selfie."""
    vector = np.zeros(128)
    vector[0] = distance
    return vector.tolist()


def selfie_at(distance: float, axis: int) -> list[float]:
    """At `distance` from a face of all zeros, along its own axis: selfies on different
    axes are apart from each other."""
    vector = np.zeros(128)
    vector[axis] = distance
    return vector.tolist()


def _face(session: Session, photo, *, distance: float, quality: float, size: int) -> Face:  # type: ignore[no-untyped-def]
    face = Face(photo_id=photo.id, event_id=photo.event_id, top=0, right=size, bottom=size,
                left=0, encoding=_vector(distance), detected_width=6000, detected_height=4000,
                size_px=size, quality=quality)  # fmt: skip
    session.add(face)
    session.commit()
    return face


def _attendee_with_selfie(session: Session, event, encoding: list[float] | None = None) -> Attendee:  # type: ignore[no-untyped-def]
    """An attendee with a valid selfie (the all-zero one unless given)."""
    user = create_user(session, role="attendee")
    attendee = Attendee(user_id=user.id, event_id=event.id, consented_at=utcnow(),
                        consent_policy_version=settings.CONSENT_POLICY_VERSION)  # fmt: skip
    session.add(attendee)
    session.flush()
    session.add(Selfie(attendee_id=attendee.id, event_id=event.id, status="valid",
                       encoding=encoding or _vector(0.0)))  # fmt: skip
    session.commit()
    return attendee


def test_a_weak_face_must_be_nearer_than_the_tolerance_to_match(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.config import settings

    monkeypatch.setattr(settings, "MATCH_WEAK_QUALITY", 0.15)
    monkeypatch.setattr(settings, "MATCH_WEAK_PENALTY", 0.05)
    # The three faces are one encoding direction apart: one group, whose mean (0.497) the
    # look-alike rule would hold back at 0.55. This test is about the face rule alone.
    monkeypatch.setattr(settings, "MATCH_LOOKALIKE_LINK", 0.0)
    event = create_event(session, owner=create_user(session))
    strong, weak_near, weak_far = (create_photo(session, event=event) for _ in range(3))
    _face(session, strong, distance=0.52, quality=0.6, size=120)
    _face(session, weak_near, distance=0.45, quality=0.1, size=44)
    _face(session, weak_far, distance=0.52, quality=0.1, size=44)  # within 0.55, not 0.50
    attendee = _attendee_with_selfie(session, event)

    matching.match_attendee(session, event.id, attendee.id, 0.55, 0.0)  # as its selfie job does
    matching.rematch_event(session, event.id, 0.55, 0.0)
    session.commit()
    matched = {m.photo_id for m in session.exec(select(Match)).all()}
    assert matched == {strong.id, weak_near.id}

    monkeypatch.setattr(settings, "MATCH_WEAK_PENALTY", 0.0)  # the rule off: all three
    matching.rematch_event(session, event.id, 0.55, 0.0)
    session.commit()
    assert {m.photo_id for m in session.exec(select(Match)).all()} == {
        strong.id,
        weak_near.id,
        weak_far.id,
    }


def _matches(session: Session, event_id) -> set[tuple]:  # type: ignore[no-untyped-def,type-arg]
    rows = session.exec(select(Match).where(Match.event_id == event_id)).all()
    return {(m.attendee_id, m.photo_id, m.face_id, m.distance) for m in rows}


@pytest.fixture
def no_face_cache() -> Iterator[None]:
    def clear() -> None:
        face_cache._events.clear()
        face_cache._small.clear()
        selfie_cache._events.clear()

    clear()
    yield
    clear()


@pytest.fixture
def small_caches(monkeypatch: pytest.MonkeyPatch, no_face_cache: None) -> None:
    """Both workers' matrices on for events of any size, refreshed whenever asked."""
    from core.config import settings

    monkeypatch.setattr(face_cache, "MIN_FACES", 0)
    monkeypatch.setattr(face_cache.CACHE, "refresh_seconds", 0.0)
    monkeypatch.setattr(settings, "FACE_CACHE_MAX_FACES", 1000)
    monkeypatch.setattr(selfie_cache, "MIN_SELFIES", 0)
    monkeypatch.setattr(selfie_cache.CACHE, "refresh_seconds", 0.0)


@pytest.mark.parametrize("cache", [None, face_cache, selfie_cache],
                         ids=["sql-scan", "face-cache", "selfie-cache"])  # fmt: skip
def test_kept_nearest_attendees_give_the_brute_force_rules_matches_through_every_change(
    session: Session,
    redis: Redis,
    small_caches: None,
    monkeypatch: pytest.MonkeyPatch,
    cache: object,
) -> None:
    """Random crowds and selfies near the tolerance, changed the ways the product changes
    them: after each step, the kept path's matches equal the brute-force statement's.
    With a cache, a new selfie's faces (face_cache) or a new photo's selfies (selfie_cache)
    come from a worker's in-memory matrix, refreshed only now and then, so that what was
    numbered after it is found in SQL."""
    from core.config import settings
    from core.models import MatchRejection

    used = []  # photos matched through the selfie matrix
    selfies_near_photo = matching._selfies_near_photo
    monkeypatch.setattr(
        matching,
        "_selfies_near_photo",
        lambda *args: used.append(found := selfies_near_photo(*args)) or found,  # type: ignore[func-returns-value]
    )

    def refresh() -> None:
        if cache is not None:
            cache.refresh(settings.database_url, redis)  # type: ignore[attr-defined]

    rng = np.random.default_rng(11)
    people = rng.normal(0.0, 0.056, (40, 128))
    # Look-alikes of people 0-7, who never register: their faces group apart and are held
    # back (workers/matching/lookalikes.py), so each step checks the groups' upkeep too.
    people = np.vstack([people, people[:8] + rng.normal(0.0, 0.04, (8, 128))])
    event = create_event(session, owner=create_user(session))
    tolerance, margin = 0.6, 0.03

    def face_of(person: int) -> list[float]:
        return (people[person] + rng.normal(0, rng.uniform(0.012, 0.045), 128)).tolist()

    def add_photo() -> None:
        photo = create_photo(session, event=event, status="indexed")
        for person in rng.integers(0, len(people), 6):
            quality = float(rng.choice([0.05, 0.5]))
            session.add(Face(photo_id=photo.id, event_id=event.id, top=0, right=50, bottom=50,
                             left=0, encoding=face_of(int(person)), detected_width=6000,
                             detected_height=4000, size_px=50, quality=quality))  # fmt: skip
        session.commit()
        matching.match_photo(session, event.id, photo.id, tolerance, margin)
        session.commit()

    attendees: list[Attendee] = []

    def add_attendee(person: int) -> None:
        user = create_user(session, role="attendee")
        attendee = Attendee(user_id=user.id, event_id=event.id, consented_at=utcnow(),
                            consent_policy_version=settings.CONSENT_POLICY_VERSION)  # fmt: skip
        session.add(attendee)
        session.flush()
        add_selfie(attendee, person)
        attendees.append(attendee)

    def add_selfie(attendee: Attendee, person: int) -> None:
        encoding = (people[person] + rng.normal(0, 0.015, 128)).tolist()
        session.add(Selfie(attendee_id=attendee.id, event_id=event.id, status="valid",
                           encoding=encoding))  # fmt: skip
        session.commit()
        matching.match_attendee(session, event.id, attendee.id, tolerance, margin)
        session.commit()

    def check(step: str) -> None:
        kept = _matches(session, event.id)
        assert kept == rules.reference_matches(session, event.id, tolerance, margin), step

    for _ in range(8):
        add_photo()
    face_cache.mark_hot(redis, event.id)
    selfie_cache.mark_hot(redis, event.id)
    refresh()
    assert (face_cache.get(event.id) is not None) == (cache is face_cache)
    for person in range(12):  # twins: people 0-5 are also registered twice over
        add_attendee(person % 9)
        check(f"attendee {person}")
        if person == 5:
            refresh()  # the selfie matrix holds 6 attendees; the others are found in SQL
    if cache is selfie_cache:
        assert len(selfie_cache.get(event.id).ids) == 6  # type: ignore[union-attr]
    for _ in range(8):
        add_photo()
    check("photos after the selfies")
    if cache is selfie_cache:
        assert len(used) == 8 and all(near is not None for near in used)
    add_attendee(30)  # found through the matrix and the 8 photos numbered since it was read
    check("a late attendee")
    refresh()
    if cache is face_cache:
        assert len(face_cache.get(event.id).blocks) == 2  # type: ignore[union-attr]
    if cache is selfie_cache:
        assert len(selfie_cache.get(event.id).ids) == 13  # type: ignore[union-attr]
    add_selfie(attendees[3], 20)  # a second selfie, of someone else entirely
    check("a second selfie")
    add_photo()
    check("a photo after the second selfie")
    assert _matches(session, event.id), "the crowd must produce matches for this to mean much"
    held = session.exec(select(FaceNearest).where(FaceNearest.lookalike)).all()
    assert held, "look-alike groups must be held back for this to check their upkeep"

    # "Not me" on one of the matched photos, as the API does it, then its job.
    attendee_id, photo_id, _, _ = sorted(_matches(session, event.id))[0]
    session.exec(delete(Match).where(Match.attendee_id == attendee_id, Match.photo_id == photo_id))
    session.add(MatchRejection(attendee_id=attendee_id, photo_id=photo_id))
    session.commit()
    matching.match_photo(session, event.id, photo_id, tolerance, margin)
    session.commit()
    check("not me")

    def delete_face_data(attendee: Attendee) -> None:
        """As the API does: its selfies and matches go; the event's rematch job follows."""
        session.exec(delete(Match).where(Match.attendee_id == attendee.id))
        session.exec(delete(Selfie).where(Selfie.attendee_id == attendee.id))
        session.commit()

    delete_face_data(attendees[1])
    matching.forget_attendee(session, event.id, attendees[1].id, tolerance, margin)  # its job
    session.commit()
    check("face data deleted")
    for _ in range(3):  # against a selfie matrix that still holds the deleted selfie
        add_photo()
        check("a photo after face data was deleted")
    refresh()
    matching.rematch_event(session, event.id, tolerance, margin)
    session.commit()
    check("and a whole rematch after it")

    # Again, and this time a new selfie (someone else's face) is judged before the rematch.
    delete_face_data(attendees[2])
    add_selfie(attendees[2], 25)
    check("a new selfie after deleting face data, before the rematch")
    matching.rematch_event(session, event.id, tolerance, margin)
    session.commit()
    check("and the rematch")

    for tolerance, margin in ((0.5, 0.03), (0.72, 0.0), (0.6, 0.05)):
        matching.rematch_event(session, event.id, tolerance, margin)
        session.commit()
        check(f"tolerance {tolerance}, margin {margin}")

    # A bulk rebuild (workers/matching/rebuild.py: BLAS candidates, exact SQL) gives the same rows,
    # but for runner-ups too far from the nearest to decide anything, which the kept path
    # does not update (workers/matching/__init__.py).
    from core.config import MAX_MATCH_MARGIN
    from workers.matching import rebuild

    def kept_rows() -> list[tuple]:  # type: ignore[type-arg]
        rows = session.exec(select(FaceNearest).where(FaceNearest.event_id == event.id)).all()
        deciding = [r.runner_up is not None and r.runner_up <= r.distance + MAX_MATCH_MARGIN
                    for r in rows]  # fmt: skip
        return sorted((r.face_id, r.attendee_id, r.distance,
                       r.runner_up_attendee_id if d else None, r.runner_up if d else None)
                      for r, d in zip(rows, deciding, strict=True))  # fmt: skip

    before = kept_rows()
    assert before
    assert rebuild.rebuild(session, event.id) == len(before)
    session.commit()
    assert kept_rows() == before


def test_a_workers_matrix_sends_sql_only_faces_a_newcomer_can_change_and_sees_a_runner_up_move_away(
    session: Session, redis: Redis, no_face_cache: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A face whose kept runner-up is nearer than a newcomer is left out of SQL. When that
    runner-up goes further away (face data deleted, then the event's rematch), the face's
    photo is numbered again, so the next newcomer finds it although the matrix's number
    for it is old; a refresh reads the runner-ups again."""
    from core.config import settings
    from workers.matching import match_attendee, match_photo, rematch_event
    from workers.matching.rules import reference_matches

    monkeypatch.setattr(face_cache, "MIN_FACES", 0)
    monkeypatch.setattr(face_cache.CACHE, "refresh_seconds", 0.0)
    monkeypatch.setattr(settings, "FACE_CACHE_MAX_FACES", 1000)
    tolerance, margin = 0.6, 0.05
    event = create_event(session, owner=create_user(session))

    def attendee(distance: float, axis: int, *, match: bool = True) -> Attendee:
        row = _attendee_with_selfie(session, event, selfie_at(distance, axis))
        if match:
            match_attendee(session, event.id, row.id, tolerance, margin)
            session.commit()
        return row

    first = attendee(0.40, 1, match=False)
    second = attendee(0.42, 2, match=False)
    photo = create_photo(session, event=event, status="indexed")
    face = _face(session, photo, distance=0.0, quality=0.9, size=200)
    match_photo(session, event.id, photo.id, tolerance, margin)
    stranger = create_photo(session, event=event, status="indexed")
    _face(session, stranger, distance=5.0, quality=0.9, size=200)
    match_photo(session, event.id, stranger.id, tolerance, margin)
    session.commit()
    assert not _matches(session, event.id), "0.40 and 0.42: too close to call"

    face_cache.mark_hot(redis, event.id)
    face_cache.refresh(settings.database_url, redis)
    cached = face_cache.get(event.id)
    assert cached is not None
    assert cached.candidates(np.array([selfie_at(0.70, 3)])) == []  # past the runner-up
    assert cached.candidates(np.array([selfie_at(0.41, 3)])) == [face.id]

    session.exec(delete(Selfie).where(Selfie.attendee_id == first.id))
    session.commit()
    rematch_event(session, event.id, tolerance, margin)
    session.commit()
    assert {m[0] for m in _matches(session, event.id)} == {second.id}, "alone within 0.80"

    # Past the nearest plus the largest margin, a newcomer decides nothing: the face's row
    # is left without a runner-up, and the matches are still the brute-force rule's.
    attendee(0.49, 4)
    row = session.get(FaceNearest, face.id)
    assert row is not None
    assert (row.attendee_id, row.runner_up_attendee_id) == (second.id, None)
    assert {m[0] for m in _matches(session, event.id)} == {second.id}, "0.49 - 0.42 > 0.05"

    newcomer = attendee(0.45, 3)  # with the matrix's old runner-up (0.42) it would be left out
    assert _matches(session, event.id) == reference_matches(session, event.id, tolerance, margin)
    assert not _matches(session, event.id), "0.42 and 0.45: too close to call again"
    session.refresh(row)
    assert (row.runner_up_attendee_id, row.runner_up) == (newcomer.id, pytest.approx(0.45))

    monkeypatch.setattr(face_cache, "DISTANCES_SECONDS", 0.0)
    face_cache.refresh(settings.database_url, redis)
    assert face_cache.get(event.id) is cached
    copies = [b.runner_up[b.ids == np.array([face.id.bytes], dtype="V16")] for b in cached.blocks]
    kept = [float(d) for found in copies for d in found]
    assert len(kept) == 2  # the old block's copy, and the photo's since it was numbered again
    assert kept == pytest.approx([0.45, 0.45], abs=1e-6)

    # Without a runner-up, the matrix's bound is the nearest plus the largest margin.
    session.exec(delete(Selfie).where(Selfie.attendee_id == newcomer.id))
    session.commit()
    rematch_event(session, event.id, tolerance, margin)
    session.commit()
    face_cache.refresh(settings.database_url, redis)
    current = face_cache.get(event.id)
    assert current is not None
    assert face.id not in current.candidates(np.array([selfie_at(0.50, 6)]))
    assert face.id in current.candidates(np.array([selfie_at(0.46, 6)]))


def test_workers_load_a_hot_event_one_at_a_time(
    session: Session, redis: Redis, no_face_cache: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """While another worker loads the event's faces, this one does not: it keeps taking
    jobs (scanning in SQL), and loads the event at a later refresh."""
    from core.config import settings

    monkeypatch.setattr(face_cache, "MIN_FACES", 0)
    monkeypatch.setattr(face_cache.CACHE, "refresh_seconds", 0.0)
    monkeypatch.setattr(settings, "FACE_CACHE_MAX_FACES", 1000)
    event = create_event(session, owner=create_user(session))
    photo = create_photo(session, event=event, status="indexed")
    _face(session, photo, distance=0.3, quality=0.9, size=100)
    matching.match_photo(session, event.id, photo.id, 0.6, 0.03)
    session.commit()
    face_cache.mark_hot(redis, event.id)

    redis.set(f"facematch:face-cache:loading:{event.id}", "another worker")
    face_cache.refresh(settings.database_url, redis)
    assert face_cache.get(event.id) is None
    redis.delete(f"facematch:face-cache:loading:{event.id}")
    face_cache.refresh(settings.database_url, redis)
    cached = face_cache.get(event.id)
    assert cached is not None and cached.faces == 1
    assert not redis.exists(f"facematch:face-cache:loading:{event.id}"), "its turn is given back"


def test_forgetting_a_deleted_attendee_gives_their_faces_to_the_next_one_even_with_their_row_gone(
    session: Session,
) -> None:
    """The job after a deletion finds the event through the faces that named the attendee."""
    from core.models import Attendee as AttendeeRow
    from workers import tasks

    event = create_event(session, owner=create_user(session))
    photo = create_photo(session, event=event, status="indexed")
    _face(session, photo, distance=0.3, quality=0.9, size=120)
    first, second = _attendee_with_selfie(session, event), _attendee_with_selfie(session, event)
    second_selfie = session.exec(select(Selfie).where(Selfie.attendee_id == second.id)).one()
    second_selfie.encoding = _vector(0.65)  # 0.35 from the face: further than the first
    session.add(second_selfie)
    session.commit()
    matching.match_photo(session, event.id, photo.id, 0.6, 0.0)
    session.commit()
    assert {m[0] for m in _matches(session, event.id)} == {first.id}

    session.exec(delete(Match).where(Match.attendee_id == first.id))
    session.exec(delete(Selfie).where(Selfie.attendee_id == first.id))
    session.exec(delete(AttendeeRow).where(AttendeeRow.id == first.id))
    session.commit()
    assert tasks.forget_attendee(str(first.id))["matches"] == 1
    session.expire_all()
    assert {m[0] for m in _matches(session, event.id)} == {second.id}
    assert tasks.forget_attendee(str(first.id)) == {"attendee_id": str(first.id), "skipped": True}


def test_a_selfie_matrix_holding_a_deleted_selfie_gives_way_to_sql_until_it_is_read_again(
    session: Session, redis: Redis, small_caches: None
) -> None:
    """A face's bound rests on its two nearest attendees in the matrix. With the nearer
    one's face data deleted, the bound would leave out the true runner-up (0.345 from the
    face, past 0.32 + 0.02), and the face would match although the runner-up is within
    the margin: the photo is compared with every selfie in SQL instead, until the worker
    reads its selfies again and finds one fewer."""
    from core.config import settings
    from workers.matching import forget_attendee, match_photo
    from workers.matching.rules import reference_matches

    tolerance, margin = 0.6, 0.05
    event = create_event(session, owner=create_user(session))

    first, second, third = (
        _attendee_with_selfie(session, event, selfie_at(distance, axis))
        for distance, axis in ((0.30, 1), (0.32, 2), (0.345, 3))
    )
    for attendee in (first, second, third):  # their selfie jobs number the selfies
        matching.match_attendee(session, event.id, attendee.id, tolerance, margin)
    session.commit()
    selfie_cache.mark_hot(redis, event.id)
    selfie_cache.refresh(settings.database_url, redis)
    cached = selfie_cache.get(event.id)
    assert cached is not None and len(cached.ids) == 3

    def new_photo() -> set[tuple]:  # type: ignore[type-arg]
        photo = create_photo(session, event=event, status="indexed")
        _face(session, photo, distance=0.0, quality=0.9, size=200)
        match_photo(session, event.id, photo.id, tolerance, margin)
        session.commit()
        return {m for m in _matches(session, event.id) if m[1] == photo.id}

    pairs = cached.pairs(np.zeros((1, 128), dtype=np.float32), keep_all=False)
    assert sorted(pairs[1]) == sorted(s.id for s in session.exec(
        select(Selfie).where(Selfie.attendee_id.in_([first.id, second.id]))  # type: ignore[attr-defined]
    ))  # fmt: skip
    assert new_photo() == set(), "0.30 and 0.32: too close to call"

    session.exec(delete(Selfie).where(Selfie.attendee_id == second.id))
    session.commit()
    forget_attendee(session, event.id, second.id, tolerance, margin)
    session.commit()
    assert new_photo() == set(), "0.30 and 0.345: still too close to call"
    assert _matches(session, event.id) == reference_matches(session, event.id, tolerance, margin)

    selfie_cache.refresh(settings.database_url, redis)
    current = selfie_cache.get(event.id)
    assert current is not None and len(current.ids) == 2, "read again: one selfie fewer"
    pairs = current.pairs(np.zeros((1, 128), dtype=np.float32), keep_all=False)
    assert len(pairs[1]) == 2
    assert new_photo() == set()


def _toward(axis: int, distance: float, wobble: int) -> list[float]:
    """`distance` from the all-zero selfie, mostly along `axis`: faces of one `axis` with
    different wobbles are near each other (one person's), faces of two axes far apart."""
    vector = np.zeros(128)
    vector[axis], vector[axis + 1 + wobble] = 1.0, 0.3
    return (distance * vector / np.linalg.norm(vector)).tolist()


def test_a_look_alike_who_never_registers_gets_none_of_their_photos_to_the_attendee(
    session: Session,
) -> None:
    """Three photos of the attendee at 0.35 and three of a stranger who resembles them at
    0.58, all within the tolerance (0.60): the stranger's faces group apart, their mean is
    more than the offset inside the tolerance, and none of their photos is matched. Once
    two of them are deleted, the event's rematch judges the one left alone by the face
    rule."""
    from core.models import Photo

    event = create_event(session, owner=create_user(session))
    own, lookalike = [], []
    for wobble in range(3):
        for axis, distance, photos in ((0, 0.35, own), (60, 0.58, lookalike)):
            photo = create_photo(session, event=event, status="indexed")
            session.add(Face(photo_id=photo.id, event_id=event.id, top=0, right=90, bottom=90,
                             left=0, encoding=_toward(axis, distance, wobble),
                             detected_width=6000, detected_height=4000, size_px=90,
                             quality=0.8))  # fmt: skip
            session.commit()
            photos.append(photo.id)
    attendee = _attendee_with_selfie(session, event)
    matching.match_attendee(session, event.id, attendee.id, 0.6, 0.03)
    session.commit()
    assert {m.photo_id for m in session.exec(select(Match)).all()} == set(own)
    held = session.exec(select(FaceNearest).where(FaceNearest.lookalike)).all()
    assert {row.photo_id for row in held} == set(lookalike)
    assert _matches(session, event.id) == rules.reference_matches(session, event.id, 0.6, 0.03)

    for photo_id in lookalike[:2]:  # as DELETE /api/photos/{id} does; its rematch follows
        session.delete(session.get(Photo, photo_id))
    session.commit()
    matching.rematch_event(session, event.id, 0.6, 0.03)
    session.commit()
    assert {m.photo_id for m in session.exec(select(Match)).all()} == {*own, lookalike[2]}
    assert not session.exec(select(FaceNearest).where(FaceNearest.lookalike)).all()
    assert _matches(session, event.id) == rules.reference_matches(session, event.id, 0.6, 0.03)


def test_matching_says_which_matches_it_made_and_marks_those_attendees_news(
    session: Session,
) -> None:
    """The seam for "a match was made": what a matching function wrote comes back, and the
    attendees who asked for digests are marked in the same transaction; a rematch that
    changes nothing makes no news."""
    event = create_event(session, owner=create_user(session))
    photos = [create_photo(session, event=event) for _ in range(2)]
    for photo in photos:
        _face(session, photo, distance=0.3, quality=0.6, size=120)
    wants_mail = _attendee_with_selfie(session, event)
    quiet = _attendee_with_selfie(session, event, _vector(0.3))  # nearer to both faces
    wants_mail.notify = True
    session.add(wants_mail)
    session.commit()

    first = matching.match_attendee(session, event.id, wants_mail.id, 0.6, 0.0)
    session.commit()
    session.refresh(wants_mail)
    assert first.count == 2
    assert first.news == {wants_mail.id}
    assert wants_mail.news_since is not None

    wants_mail.news_since = None  # as a digest that counted the news leaves it
    session.add(wants_mail)
    session.commit()
    again = matching.rematch_event(session, event.id, 0.6, 0.0)
    session.commit()
    session.refresh(wants_mail)
    assert (again.count, again.news) == (0, set())
    assert wants_mail.news_since is None

    # The nearer selfie takes the faces: its matches are made (and its attendee, who
    # asked for no mail, is not marked); the first attendee's are gone, not made.
    taken = matching.match_attendee(session, event.id, quiet.id, 0.6, 0.0)
    session.commit()
    session.refresh(quiet)
    assert (taken.count, taken.news) == (2, {quiet.id})
    assert quiet.news_since is None
