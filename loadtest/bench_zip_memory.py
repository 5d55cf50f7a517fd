"""An attendee's 50 MB zip, downloaded on a phone in Chromium: what it costs the browser's
memory (issue 31's target: the page's memory grows by less than 20 MB).

    uv run python -m loadtest.bench_zip_memory            # in `make bench`
    uv run python -m loadtest.bench_zip_memory --mb 50

A local stack with one worker holds an open-search race whose attendee joined with a
selfie (obama.jpg of ../shared) and gave bib 42; `--mb` of photos (24 MP JPEGs of noise,
which do not compress) are indexed, then read as bib 42, so that "my photos" holds them
all. Debian's
Chromium opens the event's page in a phone's viewport with the attendee signed in, and:

1. clicks "Download all (zip)", as an attendee does: a one-time link the browser streams
   to disk (api/web/static/app.js `saveLink`);
2. for comparison, downloads the same zip the way the page did before: `fetch`, then a
   Blob, then an object URL (`download` in app.js, which single photos still use).

After each, once the file is on disk: the growth of the Chromium processes' memory (the
sum of their unique set sizes: what the phone would have to find) and of the page's
JavaScript heap, against a baseline taken on the loaded page.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MIB = 1024 * 1024
CHROMIUM = Path(os.environ.get("FACEMATCH_CHROMIUM", "/usr/bin/chromium"))
SELFIE = "ageitgey_face_recognition/examples/obama.jpg"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2,
         "is_mobile": True, "has_touch": True}  # fmt: skip


def _noise_jpeg(seed: int, size: tuple[int, int] = (6000, 4000)) -> bytes:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 255, (size[1] // 4, size[0] // 4, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).resize(size).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def _chromium_uss() -> int:
    """Bytes only Chromium's processes hold (their unique set sizes, summed)."""
    import psutil

    total = 0
    for process in psutil.process_iter(["name"]):
        if "chrom" not in (process.info["name"] or ""):
            continue
        try:
            total += process.memory_full_info().uss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def _settled(page: Any, cdp: Any) -> tuple[int, int]:
    """(Chromium's unique bytes, the page's JS heap bytes) after a garbage collection."""
    cdp.send("HeapProfiler.collectGarbage")
    time.sleep(1.5)
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    return _chromium_uss(), int(metrics["JSHeapUsedSize"])


def _prepare(stack: Any, megabytes: int) -> tuple[dict[str, Any], str, int]:
    """The race, its attendee's token and the zip's size in bytes."""
    import httpx
    import psycopg

    from loadtest import datasets
    from loadtest.stack import join_event

    http = httpx.Client(base_url=stack.base, timeout=120)
    login = {"username": stack.admin_email, "password": stack.admin_password}
    token = http.post("/api/auth/token", data=login).json()
    admin = {"Authorization": f"Bearer {token['access_token']}"}
    event = http.post("/api/events", json={"name": "Harbour 10K"}, headers=admin).json()
    http.patch(f"/api/events/{event['id']}", headers=admin,
               json={"bibs_enabled": True, "bib_search": "open"}).raise_for_status()  # fmt: skip
    me = join_event(http.post, stack.base, event["code"], "runner@example.com", admin)
    selfie = (datasets.FACES / SELFIE).read_bytes()
    http.post("/api/upload-selfie", files={"file": ("me.jpg", selfie)},
              headers=me).raise_for_status()  # fmt: skip
    http.put("/api/me/bib", json={"bib": "42"}, headers=me).raise_for_status()
    total, seed = 0, 0
    while total < megabytes * MIB:
        data = _noise_jpeg(seed)
        seed += 1
        total += len(data)
        http.post(f"/api/events/{event['id']}/photos", headers=admin,
                  files=[("files", (f"DSC_{seed:04}.JPG", data))]).raise_for_status()  # fmt: skip
    deadline = time.monotonic() + 600
    while True:  # indexed first: indexing a race photo replaces its bib reads with its own
        progress = http.get(f"/api/events/{event['id']}", headers=admin).json()["progress"]
        if progress["photos_indexed"] + progress["photos_failed"] >= seed:
            break
        assert time.monotonic() < deadline, f"not indexed in 10 minutes: {progress}"
        time.sleep(2)
    url = (stack.data_dir / "postgres.url").read_text().strip()
    with psycopg.connect(url, autocommit=True) as db:
        db.execute(
            """INSERT INTO photo_bibs (photo_id, bib, event_id, top, "right", bottom, "left",
                   confidence)
               SELECT id, '42', event_id, 1, 2, 3, 0, 0.99 FROM photos WHERE event_id = %s""",
            (event["id"],),
        )
    deadline = time.monotonic() + 300
    while http.get("/api/me/selfie", headers=me).json().get("status") != "valid":
        assert time.monotonic() < deadline, "the selfie was not judged in 5 minutes"
        time.sleep(1)
    return event, me["Authorization"].removeprefix("Bearer "), total


def run(megabytes: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from loadtest.stack import local_stack

    result: dict[str, Any] = {"target_mb": megabytes}
    with local_stack(1) as stack:
        event, token, total = _prepare(stack, megabytes)
        result["photos_mb"] = round(total / MIB, 1)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                 args=["--no-sandbox"], headless=True)  # fmt: skip
            context = browser.new_context(base_url=stack.base, accept_downloads=True, **PHONE)
            page = context.new_page()
            page.goto("/")
            page.evaluate(f"localStorage.setItem('facematch.attendee.{event['code']}', '{token}')")
            page.goto(f"/e/{event['code']}")
            page.get_by_role("button", name="Download all (zip)").wait_for()
            cdp = context.new_cdp_session(page)
            cdp.send("Performance.enable")
            runs: dict[str, Any] = {}
            for way in ("link_to_disk", "fetch_into_a_blob"):
                before = _settled(page, cdp)
                with page.expect_download(timeout=300_000) as download:
                    if way == "link_to_disk":
                        page.get_by_role("button", name="Download all (zip)").click()
                    else:
                        page.evaluate(
                            "async (token) => (await import('/static/app.js'))"
                            ".download('/api/me/photos/archive', token, 'my-photos.zip')",
                            token,
                        )
                size = Path(download.value.path()).stat().st_size
                peak = _settled(page, cdp)
                runs[way] = {
                    "zip_mb": round(size / MIB, 1),
                    "chromium_growth_mb": round((peak[0] - before[0]) / MIB, 1),
                    "js_heap_growth_mb": round((peak[1] - before[1]) / MIB, 1),
                }
            browser.close()
    result.update(runs)
    result["ok"] = (
        runs["link_to_disk"]["zip_mb"] >= megabytes * 0.95
        and runs["link_to_disk"]["chromium_growth_mb"] < 20
    )
    return result


def main() -> int:
    from loadtest import datasets

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=50)
    parser.add_argument(
        "--json", type=Path, default=Path(__file__).parent / "results/zip_memory.json"
    )
    args = parser.parse_args()
    if not CHROMIUM.exists() or not datasets.FACES.exists():
        print(f"skipped: needs Chromium at {CHROMIUM} and ../shared's faces")
        return 0
    result = run(args.mb)
    print(json.dumps(result, indent=2))
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
