"""Worker peak RSS on the worst images the API accepts, against the chart's memory limits.

Each input is built to sit at an edge of what the upload checks let through
(`core/decoding.py`): the largest JPEG decoded at full scale, a JPEG at the pixel limit
(decoded reduced), the largest 16-bit and RGBA PNGs within the decoding budget, and
selfies at the selfie budget. The photos carry real faces (a crowd of the shared photos),
so detection and encoding run as on an event. Each is indexed or judged in a forked child
of a process that loaded the models first, as RQ runs a job; the peak is the child's own
`ru_maxrss`, models included: what the worker pod holds.

    uv run python -m loadtest.bench_decode [--json loadtest/results/decode.json]
"""

from __future__ import annotations

import argparse
import io
import json
import math
from pathlib import Path

import numpy as np
from PIL import Image

from api.errors import AppError
from api.images import inspect_image
from core import decoding
from core.config import settings
from loadtest import datasets
from loadtest.engine_runs import run_in_children

MIB = 1024 * 1024
WORKER_LIMIT_MIB = 768
"""worker.resources.limits.memory: the bulk pool, which indexes photos."""
INTERACTIVE_LIMIT_MIB = 1280
"""The interactive pool's limit (selfies), which also holds up to 512 MiB of face cache."""


def _side(pixels: int, aspect: float) -> tuple[int, int]:
    width = math.isqrt(int(pixels * aspect))
    return width, int(pixels // width)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, "PNG", compress_level=1)
    return out.getvalue()


def _sixteen_bit(image: Image.Image) -> Image.Image:
    wide = np.asarray(image.convert("L")).astype("<u2") * 257
    return Image.frombuffer("I;16", image.size, wide.tobytes(), "raw", "I;16", 0, 1)


def _largest(image_format: str, mode: str, aspect: float, budget: int) -> tuple[int, int]:
    """The largest size (at `aspect`) the upload check accepts: the hardest input."""
    low, high = 1, settings.MAX_IMAGE_PIXELS
    while low < high:
        middle = (low + high + 1) // 2
        width, height = _side(middle, aspect)
        if decoding.reduction_for(image_format, mode, width, height, budget) is None:
            high = middle - 1
        else:
            low = middle
    return _side(low, aspect)


def _mostly_plain(canvas: Image.Image, size: tuple[int, int]) -> Image.Image:
    """`size` pixels of a plain wall with a 3000x2000 crowd in a corner: a PNG of it stays
    under the upload's file limit, and decoding it costs what any image of its size does."""
    wall = Image.new("RGB", size, (128, 128, 128))
    wall.paste(canvas.resize((3000, 2000)), (0, 0))
    return wall


def inputs() -> list[tuple[str, str, bytes]]:
    """(name, route, file) for each edge case, checked here by the API's own upload check."""
    sources = datasets.face_sources(datasets.identities())
    budget, selfie = settings.DECODE_BUDGET_BYTES, decoding.selfie_budget()
    at_budget = _side(budget // decoding.bytes_per_pixel("RGB"), 1.5)
    limit = _side(settings.MAX_IMAGE_PIXELS - 10_000, 1.5)
    crowd = datasets.crowds(sources, 1, size=(6000, 4000))[0]
    big = datasets.crowds(sources, 1, size=at_budget, seed=17)[0]
    canvas = Image.open(io.BytesIO(big.data))
    cases = [
        ("24 MP crowd JPEG (the common case)", "photo", crowd.data),
        (f"JPEG of {at_budget[0]}x{at_budget[1]}, the largest decoded at full scale", "photo",
         big.data),
        (f"JPEG of {limit[0]}x{limit[1]}, the pixel limit (decoded at 1/2)", "photo",
         datasets.jpeg(canvas.resize(limit, Image.Resampling.BILINEAR), 85)),
        ("RGB PNG of 8064x6048 (a 48 MP phone photo's size; whole, then 1/2)", "photo",
         _png(_mostly_plain(canvas, (8064, 6048)))),
        ("the review's 16-bit PNG of 9459x9459 (whole, then 1/4)", "photo",
         _png(_sixteen_bit(canvas.resize((9459, 9459))))),
    ]  # fmt: skip
    gray16 = _largest("PNG", "I;16", 1.5, budget)
    rgba = _largest("PNG", "RGBA", 1.5, budget)
    rgb = _largest("PNG", "RGB", 1.5, budget)
    cases += [
        (f"RGB PNG of {rgb[0]}x{rgb[1]}, the largest accepted (whole, then reduced)", "photo",
         _png(_mostly_plain(canvas, rgb))),
        (f"16-bit gray PNG of {gray16[0]}x{gray16[1]}, the largest accepted", "photo",
         _png(_sixteen_bit(_mostly_plain(canvas, gray16)))),
        (f"RGBA PNG of {rgba[0]}x{rgba[1]}, the largest accepted", "photo",
         _png(_mostly_plain(canvas, rgba).convert("RGBA"))),
    ]  # fmt: skip
    portrait = datasets.upright(datasets.identities()["obama"][0])
    s16 = _largest("PNG", "I;16", 0.75, selfie)
    cases += [
        (f"16-bit gray PNG selfie of {s16[0]}x{s16[1]}, the largest accepted", "selfie",
         _png(_sixteen_bit(portrait.resize(s16)))),
        ("RGB PNG selfie of 3024x4032 (a 12 MP phone selfie's size; whole, then 1/2)", "selfie",
         _png(portrait.resize((3024, 4032)))),
        ("JPEG selfie of 8944x11920 (the pixel limit, decoded at 1/4)", "selfie",
         datasets.jpeg(portrait.resize((8944, 11920), Image.Resampling.BILINEAR), 40)),
    ]  # fmt: skip
    accepted = []
    for name, route, data in cases:
        max_bytes = settings.MAX_UPLOAD_BYTES if route == "photo" else settings.MAX_SELFIE_BYTES
        budget_for = None if route == "photo" else selfie
        try:
            inspect_image(data, max_bytes=max_bytes, budget=budget_for)
        except AppError as refused:
            print(f"  (the API refuses {name}: {refused.code}; left out)")
            continue
        accepted.append((name, route, data))
    return accepted


_PREVIEW = """
import sys
from api.images import make_preview
data = open(sys.argv[1], "rb").read()
if sys.argv[2] == "preview":
    make_preview(data, 1600)
status = open("/proc/self/status").read()
print(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))
"""
"""VmHWM, the new image's own peak: ru_maxrss after fork and exec starts at the parent's."""


def preview_cost_mib(data: bytes) -> tuple[float, float]:
    """(peak RSS of an API process that made the 1600 px preview, what the preview added
    to one that only read the file), each in a fresh interpreter with the API's imports."""
    import subprocess
    import sys
    import tempfile

    with tempfile.NamedTemporaryFile() as file:
        file.write(data)
        file.flush()
        peaks = [
            int(subprocess.run([sys.executable, "-c", _PREVIEW, file.name, step], check=True,
                               capture_output=True, text=True).stdout) / 1024
            for step in ("read", "preview")
        ]  # fmt: skip
    return peaks[1], peaks[1] - peaks[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    cases = inputs()
    rows = []
    for pipeline in ("yunet", "selfie"):
        route = "photo" if pipeline == "yunet" else "selfie"
        chosen = [c for c in cases if c[1] == route]
        photos = [datasets.Photo(name, data) for name, _, data in chosen]
        [runs] = run_in_children(pipeline, photos)
        limit = WORKER_LIMIT_MIB if route == "photo" else INTERACTIVE_LIMIT_MIB
        for (name, _, data), run in zip(chosen, runs, strict=True):
            rows.append({"input": name, "route": route, "file_mib": round(len(data) / MIB, 1),
                         "faces": len(run.faces), "cpu_s": round(run.cpu_seconds, 2),
                         "peak_rss_mib": round(run.peak_rss_mib), "limit_mib": limit})  # fmt: skip
    print(f"{'input':<66} {'file MiB':>8} {'faces':>5} {'CPU s':>6} {'peak RSS':>9} {'limit':>6}")
    for r in rows:
        print(f"{r['input']:<66} {r['file_mib']:8.1f} {r['faces']:5d} {r['cpu_s']:6.1f} "
              f"{r['peak_rss_mib']:6d} MiB {r['limit_mib']:6d}")  # fmt: skip
    print("\nThe API's previews of the non-JPEG photos (one at a time per process):")
    for name, route, data in cases:
        if route == "photo" and not data.startswith(b"\xff\xd8"):
            peak, cost = preview_cost_mib(data)
            size = round(len(data) / MIB, 1)
            rows.append({"input": name, "route": "api-preview", "file_mib": size,
                         "peak_mib": round(peak), "preview_mib": round(cost)})  # fmt: skip
            print(f"  {name:<58} file {size:5.1f} MiB: process peak {peak:4.0f} MiB, "
                  f"the preview adds {cost:4.0f} MiB (the API pod's limit: 768 MiB)")  # fmt: skip
    engine = [r for r in rows if "peak_rss_mib" in r]
    worst = max(engine, key=lambda r: r["peak_rss_mib"] / r["limit_mib"])
    print(f"worst: {worst['input']}: {worst['peak_rss_mib']} MiB of {worst['limit_mib']} MiB")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0 if all(r["peak_rss_mib"] < r["limit_mib"] for r in engine) else 1


if __name__ == "__main__":
    raise SystemExit(main())
