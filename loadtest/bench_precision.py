"""The precision benchmark: "my photos" with look-alikes who never register.

    uv run python -m loadtest.bench_precision            # in `make bench`
    uv run python -m loadtest.bench_precision --seatings 24 --det loadtest/results/det.png

One event of real faces (loadtest/lookalike_data.py: 94 photos, 6000x4000 crowds with
faces down to 40 px, groups and portraits; 17 people who may register, four of them
look-alike bald actors, and about 100 bystanders who never do, each in several photos).
Every face was detected and encoded once by the engine; matching runs through the real
SQL of workers/matching/__init__.py on a throwaway PostgreSQL.

The event is held many times over ("seatings"), each time with other people registered:
- look-alike seatings: for each of the closest pairs of people (by their selfie's mean
  distance to the other's faces), one registers and the other is only in the photos;
- random seatings: half of the people register, in a random order.

In each seating the attendees register one at a time, and each one's photos are read as
soon as their selfie is matched ("at registration": later attendees, who would be
runners-up, are not there yet), and everyone's again at the end.

It reports, for today's rule and the look-alike rule (workers/matching/lookalikes.py):
- precision and recall of (attendee, photo) pairs, at registration and at the end, and
  the recall on crowds alone;
- false matches per 10,000 impostor comparisons: every (attendee, detected face) pair of
  which the face is not the attendee's is one comparison; a match made through it is a
  false match;
- the worst single attendee: their share of wrong photos;
- a DET curve over tolerances (false match rate against false non-match rate), as a PNG.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from loadtest.lookalike_data import RESULTS, LookalikeEvent, build

TOLERANCES = (0.45, 0.5, 0.53, 0.55, 0.58, 0.6, 0.62, 0.65, 0.7)
"""The DET curve's points."""


@dataclass
class Rule:
    name: str
    link: float
    offset: float


def rules() -> list[Rule]:
    from core.config import settings

    return [
        Rule("today (face rule only)", 0.0, 0.0),
        Rule("look-alike groups", settings.MATCH_LOOKALIKE_LINK, settings.MATCH_LOOKALIKE_OFFSET),
    ]


def seatings(event: LookalikeEvent, count: int, seed: int = 5) -> list[tuple[str, list[str]]]:
    """(name, attendees in the order they register): look-alike pairs first."""
    people = event.registrable
    faces_of: dict[str, list[Any]] = {p: [] for p in people}
    for photo in event.photos:
        for (_, encoding, _), identity in zip(photo.found, photo.identities, strict=True):
            if identity in faces_of:
                faces_of[identity].append(encoding)
    closeness = sorted(
        (float(np.mean(np.linalg.norm(np.array(faces_of[b]) - event.selfies[a], axis=1))), a, b)
        for a, b in itertools.permutations(people, 2)
        if faces_of[b]
    )
    rng = random.Random(seed)
    out = []
    for _, a, b in closeness[: count // 2]:
        others = [p for p in people if p not in (a, b) and rng.random() < 0.5]
        order = [a, *others]
        rng.shuffle(order)
        out.append((f"{a} registers, look-alike {b} does not", order))
    while len(out) < count:
        order = rng.sample(people, len(people) // 2)
        out.append((f"random half #{len(out)}", order))
    return out


def _store_photos(session: Any, event: LookalikeEvent, name: str) -> tuple[uuid.UUID, dict]:  # type: ignore[type-arg]
    """An event holding every photo and face; {face id: (identity, photo index)}."""
    from loadtest.accuracy import add_event

    bench = add_event(session, name, {}, [(p.name, p.found) for p in event.photos])
    from sqlmodel import col, select

    from core.models import Face

    index = {n: i for i, n in enumerate(p.name for p in event.photos)}
    truth = {}
    for photo_id, photo_name in bench.photo_names.items():
        photo = event.photos[index[photo_name]]
        rows = session.exec(select(Face).where(col(Face.photo_id) == photo_id)).all()
        boxes = {(b[0], b[1], b[2], b[3]): k for k, (b, _, _) in enumerate(photo.found)}
        for face in rows:
            k = boxes[(face.top, face.right, face.bottom, face.left)]
            truth[face.id] = (photo.identities[k], index[photo_name])
    return bench.id, truth


def _register(session: Any, event_id: uuid.UUID, identity: str, encoding: Any) -> uuid.UUID:
    from core.config import settings
    from core.models import Attendee, Role, Selfie, User, utcnow

    user = User(email=f"{identity}-{uuid.uuid4().hex[:8]}@example.com", role=Role.attendee,
                hashed_password="x")  # fmt: skip
    session.add(user)
    session.flush()
    attendee = Attendee(user_id=user.id, event_id=event_id, consented_at=utcnow(),
                        consent_policy_version=settings.CONSENT_POLICY_VERSION)  # fmt: skip
    session.add(attendee)
    session.flush()
    session.add(Selfie(attendee_id=attendee.id, event_id=event_id, status="valid",
                       encoding=list(map(float, encoding))))  # fmt: skip
    session.commit()
    return attendee.id


def _matches(
    session: Any,
    event_id: uuid.UUID,
    attendee_id: uuid.UUID | None = None,
    *,
    with_distance: bool = False,
) -> list:  # type: ignore[type-arg]
    from sqlmodel import col, select

    from core.models import Match

    columns = [Match.attendee_id, Match.photo_id, Match.face_id]
    if with_distance:
        columns.append(Match.distance)  # type: ignore[arg-type]
    query = select(*columns).where(col(Match.event_id) == event_id)
    if attendee_id is not None:
        query = query.where(col(Match.attendee_id) == attendee_id)
    return list(session.exec(query).all())


class Tally:
    """Counts for one rule over every seating."""

    def __init__(self) -> None:
        self.right = self.wrong = self.missed = 0
        self.crowd_right = self.crowd_missed = 0
        self.impostor_comparisons = self.false_matches = 0
        self.false_faces: dict[str, int] = {}
        """"attendee <- whose face (photo kind, distance)": how often, over the seatings."""
        self.worst: tuple[float, int, int, str] = (0.0, 0, 0, "")

    def add(
        self,
        found: set[tuple[str, int]],
        truth: set[tuple[str, int]],
        kinds: list[str],
        per_attendee: bool,
        where: str,
    ) -> None:
        self.right += len(found & truth)
        self.wrong += len(found - truth)
        self.missed += len(truth - found)
        crowd = {pair for pair in truth if kinds[pair[1]] == "crowd"}
        self.crowd_right += len(found & crowd)
        self.crowd_missed += len(crowd - found)
        if per_attendee:
            for person in {p for p, _ in found}:
                mine = {pair for pair in found if pair[0] == person}
                wrong = len(mine - truth)
                share = wrong / len(mine)
                if (share, wrong) > self.worst[:2]:
                    self.worst = (share, wrong, len(mine), f"{person} ({where})")

    def report(self) -> dict[str, Any]:
        found = self.right + self.wrong
        true = self.right + self.missed
        crowd = self.crowd_right + self.crowd_missed
        return {
            "precision": self.right / found if found else 1.0,
            "recall": self.right / true if true else 1.0,
            "crowd_recall": self.crowd_right / crowd if crowd else 1.0,
            "wrong_photos": self.wrong,
            "missed_photos": self.missed,
            "true_pairs": true,
            "false_matches_per_10k": 1e4 * self.false_matches / max(self.impostor_comparisons, 1),
            "false_matches": self.false_matches,
            "impostor_comparisons": self.impostor_comparisons,
            "false_faces": dict(sorted(self.false_faces.items(), key=lambda kv: -kv[1])),
            "worst_attendee": {
                "wrong_share": self.worst[0],
                "wrong": self.worst[1],
                "photos": self.worst[2],
                "who": self.worst[3],
            },
        }


def run(event: LookalikeEvent, count: int, tolerance: float, det: Path | None) -> dict[str, Any]:
    from core.config import settings
    from loadtest.accuracy import matching_db
    from workers import matching

    margin = settings.MATCH_MARGIN
    kinds = [p.kind for p in event.photos]
    chosen = seatings(event, count)
    report: dict[str, Any] = {"tolerance": tolerance, "margin": margin, "seatings": len(chosen),
                              "photos": len(event.photos), "rules": {}}  # fmt: skip
    curves: dict[str, list[tuple[float, float, float]]] = {}
    with matching_db() as session:
        for rule in rules():
            settings.MATCH_LOOKALIKE_LINK, settings.MATCH_LOOKALIKE_OFFSET = rule.link, rule.offset
            at_registration, at_end = Tally(), Tally()
            det_counts = {t: [0, 0, 0, 0] for t in TOLERANCES}  # false, impostors, missed, true
            for name, order in chosen:
                event_id, truth_of = _store_photos(session, event, f"{rule.name}: {name}")
                faces_total = len(truth_of)
                attendee_of: dict[uuid.UUID, str] = {}
                for identity in order:
                    attendee = _register(session, event_id, identity, event.selfies[identity])
                    attendee_of[attendee] = identity
                    matching.match_attendee(session, event_id, attendee, tolerance, margin)
                    session.commit()
                    found = {(identity, truth_of[f][1]) for _, _, f in
                             _matches(session, event_id, attendee)}  # fmt: skip
                    truth = {(i, k) for i, k in set(truth_of.values()) if i == identity}
                    at_registration.add(found, truth, kinds, True, f"at registration, {name}")
                registered = set(order)
                truth = {(i, k) for i, k in set(truth_of.values()) if i in registered}
                rows = _matches(session, event_id)
                at_end.add({(attendee_of[a], truth_of[f][1]) for a, _, f in rows}, truth, kinds,
                           True, f"at the end, {name}")  # fmt: skip
                genuine = sum(1 for i, _ in truth_of.values() if i in registered)
                impostors = len(order) * faces_total - genuine
                at_end.impostor_comparisons += impostors
                for a, _, f, distance in _matches(session, event_id, with_distance=True):
                    if truth_of[f][0] != attendee_of[a]:
                        at_end.false_matches += 1
                        kind = kinds[truth_of[f][1]]
                        what = f"{attendee_of[a]} <- {truth_of[f][0]} ({kind}, {distance:.3f})"
                        at_end.false_faces[what] = at_end.false_faces.get(what, 0) + 1
                if det is not None:
                    for t in TOLERANCES:
                        matching.rematch_event(session, event_id, t, margin)
                        session.commit()
                        rows = _matches(session, event_id)
                        hits = {(attendee_of[a], truth_of[f][1]) for a, _, f in rows}
                        counts = det_counts[t]
                        counts[0] += sum(1 for a, _, f in rows if truth_of[f][0] != attendee_of[a])
                        counts[1] += impostors
                        counts[2] += len(truth - hits)
                        counts[3] += len(truth)
            report["rules"][rule.name] = {
                "link": rule.link,
                "offset": rule.offset,
                "at_registration": at_registration.report(),
                "at_the_end": at_end.report(),
            }
            curves[rule.name] = [(t, c[0] / max(c[1], 1), c[2] / max(c[3], 1))
                                 for t, c in det_counts.items()]  # fmt: skip
    settings.MATCH_LOOKALIKE_LINK = type(settings)().MATCH_LOOKALIKE_LINK
    settings.MATCH_LOOKALIKE_OFFSET = type(settings)().MATCH_LOOKALIKE_OFFSET
    if det is not None:
        report["det"] = curves
        _plot(curves, det)
    return report


def _plot(curves: dict[str, list[tuple[float, float, float]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(6.4, 4.8))
    floor = 1e-6
    for name, points in curves.items():
        fmr = [max(p[1], floor) for p in points]
        fnmr = [max(p[2], 1e-4) for p in points]
        axes.plot(fmr, fnmr, marker="o", label=name)
        for t, x, y in zip((p[0] for p in points), fmr, fnmr, strict=True):
            axes.annotate(f"{t:.2f}", (x, y), textcoords="offset points", xytext=(4, 4),
                          fontsize=7)  # fmt: skip
    axes.axvline(1e-4, color="grey", linestyle=":", label="1 in 10,000")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("false match rate (per impostor comparison; 0 drawn at 1e-6)")
    axes.set_ylabel("false non-match rate (photos missed)")
    axes.set_title("DET over tolerances: look-alikes who never register")
    axes.legend(fontsize=8)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)


def _print(report: dict[str, Any]) -> None:
    print(
        f"\n== precision with look-alikes: {report['photos']} photos, {report['seatings']} "
        f"seatings, tolerance {report['tolerance']:.2f}, margin {report['margin']:.2f}"
    )
    header = (f"{'rule':26} {'read':16} {'precision':>9} {'recall':>7} {'crowds':>7} "
              f"{'wrong':>5} {'FM/10k':>7} {'worst attendee':>16}")  # fmt: skip
    print(header)
    for name, rule in report["rules"].items():
        for when in ("at_registration", "at_the_end"):
            r = rule[when]
            worst = r["worst_attendee"]
            fm = f"{r['false_matches_per_10k']:.2f}" if when == "at_the_end" else "-"
            print(
                f"{name:26} {when.replace('_', ' '):16} {r['precision']:9.2%} {r['recall']:7.2%} "
                f"{r['crowd_recall']:7.2%} {r['wrong_photos']:5d} {fm:>7} "
                f"{worst['wrong']:>3}/{worst['photos']:<3} {worst['wrong_share']:6.1%}"
            )
        end = rule["at_the_end"]
        print(f"{'':26} impostor comparisons {end['impostor_comparisons']:,}, false matches "
              f"{end['false_matches']}; worst: {end['worst_attendee']['who']}")  # fmt: skip
        for what, times in end["false_faces"].items():
            print(f"{'':26}   {times} x {what}")
    if "det" in report:
        print("\nDET (tolerance: false matches per 10k, photos missed)")
        for name, points in report["det"].items():
            cells = "  ".join(f"{t:.2f}: {1e4 * f:.2f}, {m:.1%}" for t, f, m in points)
            print(f"  {name}: {cells}")


def main() -> int:
    from core.config import settings

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seatings", type=int, default=24)
    parser.add_argument("--tolerance", type=float, default=settings.MATCH_TOLERANCE)
    parser.add_argument("--det", type=Path, default=RESULTS / "precision-det.png",
                        help="where the DET curve goes ('' for none)")  # fmt: skip
    args = parser.parse_args()
    report = run(build(), args.seatings, args.tolerance, args.det if str(args.det) else None)
    _print(report)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "precision.json").write_text(json.dumps(report, indent=2, default=str))
    if args.det and str(args.det):
        print(f"\nDET curve: {args.det}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
