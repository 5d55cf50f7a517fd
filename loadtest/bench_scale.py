"""`make bench-scale`: matching at marathon scale, on synthetic events in the real schema.

    uv run python -m loadtest.bench_scale                 # 20 k, 200 k and 1 M faces
    uv run python -m loadtest.bench_scale --sizes 20k     # one size

Each event is loaded straight into a throwaway database (loadtest/synthetic.py: 20
faces per photo, half of them attendees', a tenth weak), its `face_nearest` rows are
built in bulk (workers/matching/rebuild.py), and then, with the worker's own functions and one
BLAS thread, as in a worker:

- rematch: the whole event after a tolerance change, 0.60 -> 0.55 -> 0.60;
- new selfie: an attendee who is in the photos registers late (the selfie job's
  matching step: the faces near it, then their photos), p50/p95; from 50 k faces up,
  the faces near it come from the worker's in-memory matrix (workers/matching/face_cache.py),
  whose load time and size are reported;
- new photo: 20 more faces, half of them attendees' (the photo job's matching step),
  taking turns with the worker's in-memory matrix of the event's selfies
  (workers/matching/selfie_cache.py, from 1,000 selfies up) and with a scan of them in SQL;
- my photos: an attendee's first page of photos with its ETag, as the API reads it, and
  every page of the attendee with the most matches;
- pages: the photographer's grid walked to its end by cursor, 100 photos a page with
  their face boxes, and the admin's users list, 200 a page (p50/p95 of a page);
- exact: on 20 k and 200 k, every match is compared with the brute-force statement
  (`workers.matching.rules.reference_matches`), after the bulk build and again after the new
  selfies and photos; 0 differences is the only pass.

Results go to loadtest/results/bench_scale.json, and one table is printed.
"""

from __future__ import annotations

import argparse
import gc
import json
import signal
import statistics
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
# numpy and the face libraries are imported inside the functions, after `workers` has
# pinned BLAS to one thread (main), as in a worker process.

FACES_PER_PHOTO = 20
SAMPLES = {"photo": 80, "page": 100}
LATE = 150
"""Attendees held back from the load: they register during the benchmark, 50 each way (a
p95 of 50 samples is their third slowest; of 25 it was the second)."""


@dataclass(frozen=True)
class Size:
    name: str
    faces: int
    attendees: int
    exact: bool


SIZES = {
    "2k": Size("2k", 2_000, 100, True),
    "20k": Size("20k", 20_000, 500, True),
    "200k": Size("200k", 200_000, 5_000, True),
    "1m": Size("1m", 1_000_000, 10_000, False),
}


def _timed(function: Any, *args: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function(*args)
    return (time.perf_counter() - started) * 1000, result


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {"p50_ms": round(statistics.median(ordered), 1), "p95_ms": round(p95, 1)}


def run_size(session: Any, size: Size) -> dict[str, Any]:
    import numpy as np
    from sqlalchemy import text

    from core.config import settings
    from core.models import Attendee, Event, Role, User
    from loadtest import synthetic
    from workers import matching
    from workers.matching import face_cache, rebuild, selfie_cache

    owner = User(email=f"owner-{uuid.uuid4().hex[:8]}@example.com", role=Role.photographer,
                 hashed_password="x")  # fmt: skip
    session.add(owner)
    session.flush()
    event = Event(name=f"scale {size.name}", code=uuid.uuid4().hex[:7].upper(), owner_id=owner.id)
    session.add(event)
    session.commit()
    result: dict[str, Any] = {"faces": size.faces, "attendees": size.attendees}

    started = time.perf_counter()
    data = synthetic.load_event(
        settings.DATABASE_URL, event.id, photos=size.faces // FACES_PER_PHOTO,
        faces_per_photo=FACES_PER_PHOTO, attendees=size.attendees, late_attendees=LATE,
    )  # fmt: skip
    result["load_s"] = round(time.perf_counter() - started, 1)
    # The synthetic event's million Python objects (ids) are this benchmark's, not a
    # worker's or the API's: out of the garbage collector's sight, so that its full
    # collections do not land in the timings (they put 100 ms into one page in twenty).
    gc.collect()
    gc.freeze()
    build_ms, rows = _timed(rebuild.rebuild, session, event.id)
    session.commit()
    result["bulk_build_s"] = round(build_ms / 1000, 1)
    # What autovacuum does within a minute of a rewrite of every row (the build numbers
    # the selfies and writes every face's nearest attendees): statistics, then the timings.
    session.execute(text("ANALYZE selfies, face_nearest, photos"))
    session.commit()
    result["faces_with_a_near_attendee"] = rows

    def rematch(tolerance: float) -> float:
        event.tolerance = tolerance
        session.add(event)
        ms, _ = _timed(matching.rematch_event, session, event.id, tolerance, settings.MATCH_MARGIN)
        session.commit()
        return ms

    rematch(0.60)  # the first derivation of the matches
    result["rematch_s"] = round(max(rematch(0.55), rematch(0.60)) / 1000, 2)
    if size.exact:
        result["differences_after_bulk_build"] = _differences(session, event.id)

    # The worker's in-memory matrix of the event's faces (events of 50 k faces and more),
    # as the chart's interactive pool keeps them.
    settings.FACE_CACHE_MAX_FACES = 1_500_000
    ms, _ = _timed(face_cache.keep, settings.database_url, [event.id])
    cached = face_cache.get(event.id)
    if cached is not None:
        # What a refresh does every DISTANCES_SECONDS: the kept distances read again.
        face_cache.DISTANCES_SECONDS, saved_interval = 0.0, face_cache.DISTANCES_SECONDS
        reread_ms, _ = _timed(face_cache.keep, settings.database_url, [event.id])
        face_cache.DISTANCES_SECONDS = saved_interval
        result["face_cache"] = {
            "load_s": round(ms / 1000, 1),
            "distances_read_s": round(reread_ms / 1000, 2),
            "mib": round(
                sum(b.matrix.nbytes + b.ids.nbytes + b.runner_up.nbytes for b in cached.blocks)
                / 2**20
            ),
        }
    # New selfies, taking turns so that the machine's drift hits each way alike: with the
    # worker's matrix and its kept distances (the product), with the matrix alone (every
    # face within the radius goes to SQL), and with a scan in SQL.
    ways = ["new_selfie", "new_selfie_matrix_unfiltered", "new_selfie_sql_scan"]
    if cached is None:
        ways = ways[:1]
    times: dict[str, list[float]] = {way: [] for way in ways}
    sent: dict[str, list[int]] = {way: [] for way in ways[:2]}
    for n, late in enumerate(data.late_attendees):
        way = ways[n % len(ways)]
        attendee_id = synthetic.register(data, late)
        kept: list[tuple[Any, Any]] = []
        if cached is not None and way == "new_selfie_sql_scan":
            face_cache._events.pop(event.id)
        elif cached is not None and way == "new_selfie_matrix_unfiltered":
            kept = [(b.nearest, b.runner_up) for b in cached.blocks]
            for b in cached.blocks:
                b.set_distances(*(np.full(len(b.ids), np.inf, dtype=np.float32),) * 2)
        if cached is not None and way in sent:  # how many faces go to SQL
            selfie = session.execute(
                text("SELECT CAST(encoding AS real[]) FROM selfies WHERE attendee_id = :a"),
                {"a": attendee_id},
            ).scalar_one()
            session.rollback()
            sent[way].append(len(cached.candidates(np.array([selfie]))))
        ms, _ = _timed(matching.match_attendee, session, event.id, attendee_id, 0.60,
                       settings.MATCH_MARGIN)  # fmt: skip
        session.commit()
        times[way].append(ms)
        if cached is not None:
            face_cache._events[event.id] = cached
            for b, (kept_nearest, kept_runner_up) in zip(cached.blocks, kept, strict=False):
                b.set_distances(kept_nearest, kept_runner_up)
    for way in ways:
        result[way] = _percentiles(times[way])
    for way, counts in sent.items():
        if counts:
            result[way]["faces_to_sql_p50"] = int(np.median(counts))
            result[way]["faces_to_sql_max"] = max(counts)

    # New photos, taking turns too: with the worker's matrix of the event's selfies (the
    # product, from 1,000 selfies up; the late attendees' selfies are found in SQL, numbered
    # after the matrix was read) and with every selfie compared in SQL.
    ms, _ = _timed(selfie_cache.keep, settings.database_url, [event.id])
    selfies = selfie_cache.get(event.id)
    photo_ways = ["new_photo", "new_photo_sql_scan"] if selfies is not None else ["new_photo"]
    if selfies is not None:
        result["selfie_cache"] = {"load_s": round(ms / 1000, 2), "selfies": len(selfies.ids),
                                  "mib": round(selfies.matrix.nbytes / 2**20, 1)}  # fmt: skip
    photo_ms: dict[str, list[float]] = {way: [] for way in photo_ways}
    for n in range(SAMPLES["photo"]):
        way = photo_ways[n % len(photo_ways)]
        if way == "new_photo_sql_scan":
            selfie_cache._events.pop(event.id)
        photo_id = synthetic.add_photos(data, 1, FACES_PER_PHOTO, analyze=False)[0]
        ms, _ = _timed(matching.match_photo, session, event.id, photo_id, 0.60,
                       settings.MATCH_MARGIN)  # fmt: skip
        session.commit()
        photo_ms[way].append(ms)
        if selfies is not None:
            selfie_cache._events[event.id] = selfies
    for way in photo_ways:
        result[way] = _percentiles(photo_ms[way])
    if size.exact:
        result["differences_after_new_selfies_and_photos"] = _differences(session, event.id)

    # "My photos" as the API reads it: the first page with its ETag, for random attendees
    # and for the one with the most matches, whose every page is read.
    from api.matches.service import my_photos
    from api.photos.service import list_event_photos
    from api.users.repository import list_users

    page_ms = []
    rng = np.random.default_rng(3)
    matched = session.execute(
        text("SELECT attendee_id FROM matches WHERE event_id = :e GROUP BY attendee_id"
             " ORDER BY count(*) DESC"), {"e": event.id}
    ).scalars().all()  # fmt: skip
    for attendee_id in rng.choice(matched, size=min(SAMPLES["page"], len(matched))):
        attendee = session.get(Attendee, attendee_id)
        ms, _ = _timed(lambda a: my_photos(session, a, cursor=None, limit=60), attendee)
        session.rollback()
        page_ms.append(ms)
    result["my_photos"] = _percentiles(page_ms)
    most = session.get(Attendee, matched[0])
    result["my_photos_most_matched"] = _walk(
        lambda cursor: my_photos(session, most, cursor=cursor, limit=60)[0], session
    )
    # The photographer's grid, every photo by pages of 100, and the admin's users list.
    result["photographer_pages"] = _walk(
        lambda cursor: list_event_photos(
            session, event, owner, status=None, cursor=cursor, limit=100
        ),
        session,
    )
    result["admin_user_pages"] = _walk(
        lambda cursor: _users_page(list_users(session, cursor=cursor, limit=200)), session
    )
    result["matches"] = session.execute(
        text("SELECT count(*) FROM matches WHERE event_id = :e"), {"e": event.id}
    ).scalar_one()
    return result


def _users_page(page: tuple[Any, str | None, int]) -> Any:
    from types import SimpleNamespace

    users, next_cursor, count = page
    return SimpleNamespace(data=users, next_cursor=next_cursor, count=count)


def _walk(read_page: Any, session: Any) -> dict[str, Any]:
    """Read every page of a list by its cursors: pages, rows, and p50/p95 of a page."""
    cursor, pages, rows, times = None, 0, 0, []
    while True:
        ms, page = _timed(read_page, cursor)
        session.rollback()
        times.append(ms)
        pages, rows, cursor = pages + 1, rows + len(page.data), page.next_cursor
        if cursor is None:
            assert rows == page.count, (rows, page.count)
            return {"pages": pages, "rows": rows, **_percentiles(times)}


def _differences(session: Any, event_id: uuid.UUID) -> int:
    """Matches that differ from the brute-force rule's, either way."""
    from sqlalchemy import text

    from core.config import settings
    from workers.matching import rules

    tolerance = session.execute(
        text("SELECT coalesce(tolerance, :d) FROM events WHERE id = :e"),
        {"e": event_id, "d": settings.MATCH_TOLERANCE},
    ).scalar_one()
    reference = rules.reference_matches(session, event_id, tolerance, settings.MATCH_MARGIN)
    kept = {
        (a, p, f, d)
        for a, p, f, d in session.execute(
            text("SELECT attendee_id, photo_id, face_id, distance FROM matches"
                 " WHERE event_id = :e"), {"e": event_id}
        )
    }  # fmt: skip
    session.rollback()
    return len(kept ^ reference)


def table(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        "| event | bulk build | rematch (tolerance change) | new selfie p50 / p95 | "
        "new photo p50 / p95 | my photos p50 / p95 | differences from brute force |"
        " selfie's faces found by | photo's selfies found by |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results.values():
        exact = (
            f"{r['differences_after_bulk_build']} / {r['differences_after_new_selfies_and_photos']}"
            if "differences_after_bulk_build" in r
            else "not checked"
        )
        cache = r.get("face_cache")
        scan = r.get("new_selfie_sql_scan")
        bare = r.get("new_selfie_matrix_unfiltered")
        found_by = (
            f"worker's matrix ({cache['mib']} MiB, loaded in {cache['load_s']} s), which sent"
            f" SQL {r['new_selfie'].get('faces_to_sql_p50')} faces (p50); the matrix without"
            f" the kept distances: {bare['p50_ms']} / {bare['p95_ms']} ms, sending"
            f" {bare.get('faces_to_sql_p50')}; a SQL scan: {scan['p50_ms']} / {scan['p95_ms']} ms"
            if cache and scan and bare
            else "SQL scan"
        )
        selfies, photo_scan = r.get("selfie_cache"), r.get("new_photo_sql_scan")
        photo_found_by = (
            f"worker's matrix ({selfies['selfies']:,} selfies, {selfies['mib']} MiB, read in"
            f" {selfies['load_s']} s); a SQL scan: {photo_scan['p50_ms']} / "
            f"{photo_scan['p95_ms']} ms"
            if selfies and photo_scan
            else "SQL scan"
        )
        lines.append(
            f"| {r['faces']:,} faces, {r['attendees']:,} attendees | {r['bulk_build_s']} s "
            f"| {r['rematch_s']} s | {r['new_selfie']['p50_ms']} / {r['new_selfie']['p95_ms']} ms "
            f"| {r['new_photo']['p50_ms']} / {r['new_photo']['p95_ms']} ms "
            f"| {r['my_photos']['p50_ms']} / {r['my_photos']['p95_ms']} ms | {exact} | {found_by} "
            f"| {photo_found_by} |"
        )
    lines += [
        "",
        "| event | photographer's grid, every page of 100 | my photos, the most matched"
        " attendee | admin's users, every page of 200 |",
        "|---|---|---|---|",
    ]
    for r in results.values():
        walks = [r.get(k) for k in ("photographer_pages", "my_photos_most_matched",
                                     "admin_user_pages")]  # fmt: skip
        cells = [
            f"{w['rows']:,} in {w['pages']} pages: {w['p50_ms']} / {w['p95_ms']} ms" if w else "-"
            for w in walks
        ]
        lines.append(f"| {r['faces']:,} faces | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt  # so that the throwaway database is stopped on SIGTERM too


def main() -> int:
    signal.signal(signal.SIGTERM, _interrupt)
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="20k,200k,1m", help=", ".join(SIZES))
    args = parser.parse_args()
    sizes = [SIZES[name] for name in args.sizes.split(",")]
    import workers  # noqa: F401  (first: one BLAS thread)
    from loadtest.accuracy import matching_db

    results: dict[str, dict[str, Any]] = {}
    with matching_db() as session:
        for size in sizes:
            print(f"== {size.faces:,} faces, {size.attendees:,} attendees ...", flush=True)
            results[size.name] = run_size(session, size)
            print(json.dumps(results[size.name]), flush=True)
    print(table(results))
    out = Path(__file__).parent / "results" / "bench_scale.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    failed = [
        name
        for name, r in results.items()
        if r.get("differences_after_bulk_build")
        or r.get("differences_after_new_selfies_and_photos")
    ]
    if failed:
        print(f"NOT EXACT: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
