"""Bib search and "my photos" with a bib, on a race of 100,000 photos (issue 30's target:
p95 at most 50 ms).

    uv run python -m loadtest.bench_bib_search                     # in `make bench-scale`
    uv run python -m loadtest.bench_bib_search --photos 100000 --runners 10000 --samples 1000

A throwaway PostgreSQL gets one event with `--photos` indexed photos, each with three bib
reads drawn from `--runners` bibs (one in five under the matching confidence), pacers'
bibs 1-10 in ~1,000 photos each, a read outside the race's range in one photo in four (a
board), a start list of every runner, and attendees who gave their bib. Then, for random bibs:

- the open search's first page (the service call the endpoint makes: range, start list,
  the page of photos and their count), one search in ten for a pacer, and the second
  page by cursor where there is one;
- a bib's pass page;
- an attendee's "my photos" (face matches and bib reads in one list), first page and ETag.

Timings are wall milliseconds in this process, p50 / p95 / max; the HTTP layer adds
what every endpoint adds (`make loadtest`).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 2),
        "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 2),
        "max_ms": round(ordered[-1], 2),
    }


def _timed(fn: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = fn()
    return (time.perf_counter() - started) * 1000, result


def load(session: Any, photos: int, runners: int) -> Any:
    from sqlalchemy import text

    from api.events.codes import new_code
    from core.models import Event, Role, User

    owner = User(email=f"race-{uuid.uuid4().hex[:8]}@example.com", role=Role.photographer,
                 hashed_password="x")  # fmt: skip
    session.add(owner)
    session.flush()
    event = Event(name="Marathon", code=new_code(), owner_id=owner.id,
                  bibs_enabled=True, bib_min=1, bib_max=runners, bib_search="open")  # fmt: skip
    session.add(event)
    session.commit()
    params = {"e": event.id, "photos": photos, "runners": runners}
    for statement in (
        """INSERT INTO photos (id, event_id, storage_key, filename, content_type, bytes, width,
               height, status, attempts, created_at, updated_at, indexed_at, bibs_read_at)
           SELECT gen_random_uuid(), :e, 'k' || i, 'p' || i || '.jpg', 'image/jpeg', 1, 6000,
                  4000, 'indexed', 1, now() - i * interval '1 second', now(), now(), now()
           FROM generate_series(1, :photos) i""",
        """INSERT INTO photo_bibs (photo_id, bib, event_id, top, "right", bottom, "left",
               confidence)
           SELECT p.id, (1 + floor(random() * :runners))::int::text, :e, 1, 2, 3, 0,
                  CASE WHEN random() < 0.8 THEN 0.9 + random() * 0.1 ELSE 0.5 + random() * 0.4 END
           FROM photos p, generate_series(1, 3) k WHERE p.event_id = :e
           ON CONFLICT DO NOTHING""",
        # Pacers and leaders: bibs 1-10 are in one photo in a hundred each (~1,000 photos).
        """INSERT INTO photo_bibs (photo_id, bib, event_id, top, "right", bottom, "left",
               confidence)
           SELECT p.id, (1 + floor(random() * 10))::int::text, :e, 1, 2, 3, 0, 0.99
           FROM photos p WHERE p.event_id = :e AND random() < 0.1
           ON CONFLICT DO NOTHING""",
        """INSERT INTO photo_bibs (photo_id, bib, event_id, top, "right", bottom, "left",
               confidence)
           SELECT p.id, (:runners + 1 + floor(random() * 1000))::int::text, :e, 1, 2, 3, 0, 0.99
           FROM photos p WHERE p.event_id = :e AND random() < 0.25
           ON CONFLICT DO NOTHING""",
        """INSERT INTO runners (id, event_id, bib, name, email, created_at)
           SELECT gen_random_uuid(), :e, i::text, 'Runner ' || i, 'r' || i || '@example.com',
                  now()
           FROM generate_series(1, :runners) i""",
    ):
        session.execute(text(statement), params)
    session.commit()
    session.execute(text("ANALYZE photos, photo_bibs, runners"))
    session.commit()
    return event


def attendees(session: Any, event: Any, count: int, runners: int) -> list[Any]:
    from core.config import settings
    from core.models import Attendee, Role, User, utcnow

    made = []
    for n in range(count):
        user = User(email=f"a{n}-{uuid.uuid4().hex[:6]}@example.com", role=Role.attendee)
        session.add(user)
        session.flush()
        attendee = Attendee(user_id=user.id, event_id=event.id, consented_at=utcnow(),
                            consent_policy_version=settings.CONSENT_POLICY_VERSION,
                            bib=str(random.randint(1, runners)))  # fmt: skip
        session.add(attendee)
        made.append(attendee)
    session.commit()
    return made


def run(photos: int, runners: int, samples: int) -> dict[str, Any]:
    from sqlalchemy import text

    from api.bibs import repository as bib_repository
    from api.bibs import service as bibs
    from api.matches.service import my_photos
    from core.models import BibPass
    from loadtest.accuracy import matching_db

    random.seed(30)
    result: dict[str, Any] = {"photos": photos, "runners": runners, "samples": samples}
    with matching_db() as session:
        started = time.perf_counter()
        event = load(session, photos, runners)
        result["load_s"] = round(time.perf_counter() - started, 1)
        result["reads"] = session.execute(text("SELECT count(*) FROM photo_bibs")).scalar()
        searched, second, counts = [], [], []
        for n in range(samples):
            # One search in ten is for a pacer's bib, with ~1,000 photos and many pages.
            bib = str(random.randint(1, 10) if n % 10 == 0 else random.randint(1, runners))
            ms, page = _timed(lambda b=bib: bibs.search(session, event.code, b, cursor=None,
                                                          limit=60))  # fmt: skip
            searched.append(ms)
            counts.append(page.count)
            if page.next_cursor:
                ms, _ = _timed(lambda b=bib, c=page.next_cursor: bibs.search(
                    session, event.code, b, cursor=c, limit=60))  # fmt: skip
                second.append(ms)
            session.rollback()
        result["photos_a_bib"] = {"median": statistics.median(counts), "max": max(counts)}
        result["open_search_first_page"] = _stats(searched)
        if second:
            result["open_search_second_page"] = _stats(second)

        token = "bench-pass-token"
        from api.auth.security import token_digest
        from core.models import utcnow

        passes = []
        bib_pass = BibPass(event_id=event.id, bib="1", token_sha256=token_digest(token),
                           expires_at=utcnow().replace(year=2100))  # fmt: skip
        bib_repository.add_pass(session, bib_pass)
        session.commit()
        for _ in range(min(samples, 300)):
            ms, _ = _timed(lambda: bibs.pass_photos(session, token, cursor=None, limit=60))
            passes.append(ms)
            session.rollback()
        result["pass_first_page"] = _stats(passes)

        mine = []
        for attendee in attendees(session, event, min(samples, 300), runners):
            ms, _ = _timed(lambda a=attendee: my_photos(session, a, cursor=None, limit=60))
            mine.append(ms)
            session.rollback()
        result["my_photos_with_a_bib"] = _stats(mine)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=100_000)
    parser.add_argument("--runners", type=int, default=10_000)
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument(
        "--json", type=Path, default=Path(__file__).parent / "results/bib_search.json"
    )
    args = parser.parse_args()
    result = run(args.photos, args.runners, args.samples)
    print(json.dumps(result, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
