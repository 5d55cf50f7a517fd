"""What the watermark costs a preview, and how often it lands on a face (issue 31's target:
previews with a watermark at most 10 % slower than without).

    uv run python -m loadtest.bench_watermark                  # in `make bench`
    uv run python -m loadtest.bench_watermark --photos 12 --rounds 7

The input is the hard case for both questions: 6000x4000 crowd photos of 12-20 real faces
of ../shared (40-600 px, some blurred, dim or tilted, anywhere on the canvas, corners
included), saved as an event's JPEGs. Each photo's thumbnail (480 px) and preview (1600
px) is made as the API makes it (`api.images.make_preview`): without a mark, with a text
mark and with a logo mark, each the median of `--rounds`, with the mark's stamp already
made (it is cached per event, mark and size); the first, cold stamp is timed apart.

Placement: for each photo and size, whether the mark covers a face (its box grown by
`api.watermark.FACE_PAD`), where it is placed (`api.watermark.place`) and where a fixed
bottom-right corner would put it.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api import watermark
from api.images import PREVIEW_SIDES, Marking, make_preview
from loadtest import datasets


def _logo() -> bytes:
    """A logo as a photographer would upload one: a coloured word mark on transparency."""
    from PIL import ImageDraw, ImageFont

    image = Image.new("RGBA", (800, 260), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)
    draw.rounded_rectangle((10, 10, 790, 250), radius=40, fill=(20, 40, 160, 230))
    font = ImageFont.load_default(size=150)
    draw.text((60, 40), "STUDIO", font=font, fill=(255, 255, 255, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def _medians_ms(calls: dict[str, Any], rounds: int) -> dict[str, float]:
    """Each call's median wall time; the calls take turns in each round, so a drift of the
    machine's speed (a 2-core VM's neighbours) falls on all of them alike."""
    times: dict[str, list[float]] = {name: [] for name in calls}
    for n in range(rounds):
        names = list(calls)
        for name in names[n % len(names) :] + names[: n % len(names)]:
            started = time.perf_counter()
            calls[name]()
            times[name].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(found) for name, found in times.items()}


def _covers(spot: tuple[int, int, int, int], faces: list[watermark.Box]) -> bool:
    padded = [watermark._pad(face) for face in faces]
    box = (float(spot[0]), float(spot[1]), float(spot[2]), float(spot[3]))
    return any(watermark._overlap(box, face) > 0 for face in padded)


def run(photos: int, rounds: int, seed: int, faces: tuple[int, int] = (12, 20)) -> dict[str, Any]:
    sources = datasets.face_sources(datasets.identities())
    crowds = datasets.crowds(sources, photos, seed=seed, per_photo=faces)
    logo = _logo()
    marks = {
        "text": watermark.Mark(key="bench:text", text="Studio Mer · Harbour Regatta"),
        "logo": watermark.Mark(key="bench:logo", text="", logo=lambda: logo),
    }
    timings: dict[str, dict[str, list[float]]] = {
        size: {kind: [] for kind in ("none", *marks)} for size in PREVIEW_SIDES
    }
    cold: dict[str, float] = {}
    placement = {size: {"placed_on_a_face": 0, "corner_on_a_face": 0, "photos": 0}
                 for size in PREVIEW_SIDES}  # fmt: skip
    faces_total = 0
    for crowd in crowds:
        boxes = tuple(face.box for face in crowd.faces)
        faces_total += len(boxes)
        width = 6000
        for size, side in PREVIEW_SIDES.items():
            data = crowd.data
            if crowd is crowds[0]:  # the first preview of an event's mark makes its stamp
                for kind, mark in marks.items():
                    watermark.stamps._stamps.clear()
                    started = time.perf_counter()
                    make_preview(data, side, Marking(mark, boxes, width))
                    cold[f"{kind}-{size}"] = round((time.perf_counter() - started) * 1000, 1)
            calls = {"none": functools.partial(make_preview, data, side)}
            for kind, mark in marks.items():
                calls[kind] = functools.partial(
                    make_preview, data, side, Marking(mark, boxes, width)
                )
                calls[kind]()  # the stamp, as a warm API has it
            for kind, median in _medians_ms(calls, rounds).items():
                timings[size][kind].append(median)
            with Image.open(io.BytesIO(make_preview(crowd.data, side))) as shown:
                preview_size = shown.size
            scale = preview_size[0] / width
            faces = [watermark.Box(left * scale, top * scale, right * scale, bottom * scale)
                     for top, right, bottom, left in boxes]  # fmt: skip
            stamp = watermark.stamps.get(marks["logo"], watermark.mark_width(*preview_size))
            x, y = watermark.place(preview_size, stamp.size, faces)
            margin = round(min(preview_size) * watermark.MARGIN_SHARE)
            cx, cy = preview_size[0] - stamp.width - margin, preview_size[1] - stamp.height - margin
            counts = placement[size]
            counts["photos"] += 1
            counts["placed_on_a_face"] += _covers((x, y, x + stamp.width, y + stamp.height), faces)
            counts["corner_on_a_face"] += _covers(
                (cx, cy, cx + stamp.width, cy + stamp.height), faces
            )
    result: dict[str, Any] = {"photos": photos, "faces_per_photo": f"{faces[0]}-{faces[1]}",
                              "faces": faces_total, "rounds": rounds,
                              "seed": seed, "cold_stamp_ms": cold}  # fmt: skip
    worst = 0.0
    for size, kinds in timings.items():
        base = sum(kinds["none"])
        row: dict[str, Any] = {"none_ms_per_photo": round(base / photos, 1)}
        for kind in marks:
            total = sum(kinds[kind])
            slower = (total - base) / base
            worst = max(worst, slower)
            row[f"{kind}_ms_per_photo"] = round(total / photos, 1)
            row[f"{kind}_slower_pct"] = round(100 * slower, 1)
        result[size] = {**row, **placement[size]}
    result["worst_slower_pct"] = round(100 * worst, 1)
    result["ok"] = worst <= 0.10
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--photos", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=29)
    parser.add_argument("--faces", default="12-20",
                        help="faces a photo, MIN-MAX (80-120: a packed grandstand)")  # fmt: skip
    parser.add_argument(
        "--json", type=Path, default=Path(__file__).parent / "results/watermark.json"
    )
    args = parser.parse_args()
    if not datasets.FACES.exists():
        print(f"skipped: no faces at {datasets.FACES} (../shared is absent)")
        return 0
    low, high = (int(n) for n in args.faces.split("-"))
    result = run(args.photos, args.rounds, args.seed, (low, high))
    print(json.dumps(result, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
