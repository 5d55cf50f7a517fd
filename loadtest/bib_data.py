"""Race photos with bibs, built at run time for the bib benchmark and tests.

Each photo is 6000x4000 on the faceless background of the crowd benchmark
(`datasets._background`). Runners are a real head from ../shared/testdata/faces
over a shirt that carries a paper bib: a number of 1-5 digits, 20-80 px tall, in one
of four bold faces, with the race's name and year printed small above it. The bib is
then folded (shaded and bowed), turned in perspective, and some runners are
motion-blurred. The hard cases come on purpose:

- `occluded`: an arm crosses the bib and hides one or more digits at an end. Reading
  what is left ("123" of "1234") is a wrong bib, the worst outcome;
- `faceless`: the head is turned away or hidden (no face to anchor a torso on);
- distractors: the year on every bib, kilometre boards and a finish banner with
  numbers in the background, and runners with no bib at all;
- photos with no runner.

The truth for each runner is its bib, the digit height and what was done to it.
"""

from __future__ import annotations

import io
import random
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from loadtest import datasets

DIGIT_SIZES = (20, 25, 30, 35, 40, 50, 60, 80)
"""Digit heights in the photo's pixels; the issue's range is 20-80 px."""
CONDITIONS = ("clean", "clean", "clean", "fold", "perspective", "motion", "occluded", "faceless")
DISTRACTORS = ("FINISH 2026", "KM 21", "10K", "42.195", "START 08:30", "1/2 MARATHON")


@dataclass
class Runner:
    bib: str | None
    """The number on the bib, or None for a runner with no bib."""
    digit_px: int
    condition: str
    hidden_digits: int = 0
    """How many digits an arm hides (at one end) when the condition is `occluded`."""
    box: tuple[int, int, int, int] = (0, 0, 0, 0)
    """The bib's (top, right, bottom, left) in the photo."""

    @property
    def readable(self) -> bool:
        return self.bib is not None and self.hidden_digits == 0


@dataclass
class RacePhoto:
    name: str
    data: bytes
    runners: list[Runner] = field(default_factory=list)

    @property
    def bibs(self) -> set[str]:
        return {r.bib for r in self.runners if r.bib}


@cache
def fonts() -> tuple[str, ...]:
    """Bold faces from matplotlib's data (a dev dependency), else Pillow's own."""
    try:
        import matplotlib

        ttf = Path(matplotlib.get_data_path()) / "fonts/ttf"
        names = ("DejaVuSans-Bold.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSerif-Bold.ttf")
        return (*(str(ttf / n) for n in names if (ttf / n).exists()), "")
    except ImportError:
        return ("",)


def _font(name: str, size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.truetype(name, size) if name else ImageFont.load_default(size)


def _sized_font(name: str, digit_px: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """The font at the size whose digits are `digit_px` tall."""
    probe = _font(name, 100)
    top, bottom = probe.getbbox("0123456789")[1::2]
    return _font(name, max(6, round(100 * digit_px / max(1, bottom - top))))


def bib_image(
    number: str, digit_px: int, rng: random.Random, *, race: str = "CITY RUN 2026"
) -> tuple[Image.Image, tuple[float, float]]:
    """A paper bib: the number in a bold face, the race's name small above it; and where
    the number starts and ends, as shares of the bib's width."""
    font_name = rng.choice(fonts())
    font = _sized_font(font_name, digit_px)
    bold = max(1, digit_px // 12) if not font_name else 0
    left, top, right, bottom = font.getbbox(number, stroke_width=bold)
    text_w, text_h = right - left, bottom - top
    pad_x, pad_y = round(0.45 * digit_px) + 4, round(0.3 * digit_px) + 2
    header = _sized_font("", max(6, round(digit_px * 0.28)))
    head_h = round(digit_px * 0.5)
    # Bibs come in one size per race: a short number sits in the middle of a wide bib.
    header_w = header.getbbox(race)[2]
    width = max(text_w + 2 * pad_x, round(2.4 * digit_px) + 2 * pad_x, header_w + 2 * pad_y)
    height = text_h + 2 * pad_y + head_h
    paper = rng.choice(((246, 246, 240), (255, 250, 210), (230, 240, 255), (255, 255, 255)))
    ink = rng.choice(((10, 10, 10), (20, 30, 120), (150, 10, 10)))
    image = Image.new("RGB", (width, height), paper)
    draw = ImageDraw.Draw(image)
    draw.text((width / 2, pad_y * 0.6), race, fill=ink, font=header, anchor="mt")
    draw.text(
        ((width - text_w) / 2 - left, head_h + pad_y - top), number, fill=ink, font=font,
        stroke_width=bold, stroke_fill=ink,
    )  # fmt: skip
    for x in (3, width - 4):  # safety-pin holes
        for y in (3, height - 4):
            draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=(120, 120, 120))
    start = (width - text_w) / 2
    return image, (start / width, (start + text_w) / width)


def _fold(bib: Image.Image, rng: random.Random) -> Image.Image:
    """A crease: a shaded band across the bib, and the paper bowed around it."""
    import numpy as np

    pixels = np.asarray(bib, dtype=np.float32)
    h, w = pixels.shape[:2]
    x = np.arange(w)[None, :, None]
    crease = rng.uniform(0.3, 0.7) * w
    shade = 1 - rng.uniform(0.25, 0.45) * np.exp(-(((x - crease) / (0.08 * w)) ** 2))
    pixels = pixels * shade
    ys = np.arange(h)[:, None]
    bow = (rng.uniform(0.03, 0.06) * h * np.sin(np.pi * np.arange(w) / w))[None, :]
    rows = np.clip(np.round(ys - bow).astype(int), 0, h - 1)
    pixels = pixels[rows, np.arange(w)[None, :]]
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _perspective(bib: Image.Image, rng: random.Random, strength: float) -> Image.Image:
    """The bib turned away from the camera: each corner moved inward by up to `strength`
    of its size. The result is RGBA: transparent outside the turned bib."""
    w, h = bib.size
    dx, dy = strength * w, strength * h
    corners = [
        (rng.uniform(0, dx), rng.uniform(0, dy)),
        (w - rng.uniform(0, dx), rng.uniform(0, dy)),
        (w - rng.uniform(0, dx), h - rng.uniform(0, dy)),
        (rng.uniform(0, dx), h - rng.uniform(0, dy)),
    ]
    coefficients = _perspective_coefficients([(0, 0), (w, 0), (w, h), (0, h)], corners)
    return bib.convert("RGBA").transform(
        bib.size, Image.Transform.PERSPECTIVE, coefficients, Image.Resampling.BICUBIC
    )


def _perspective_coefficients(source: list, target: list) -> list[float]:
    """PIL's coefficients that take each `target` corner of the output to its `source`
    corner of the input."""
    import numpy as np

    rows = []
    for (x, y), (u, v) in zip(target, source, strict=True):
        rows.append([x, y, 1, 0, 0, 0, -u * x, -u * y])
        rows.append([0, 0, 0, x, y, 1, -v * x, -v * y])
    a = np.array(rows, dtype=np.float64)
    b = np.array([c for p in source for c in p], dtype=np.float64)
    return list(np.linalg.solve(a, b))


def _motion(image: Image.Image, rng: random.Random, digit_px: int) -> Image.Image:
    """Horizontal motion blur over 8-20 % of a digit's height (a runner panned past)."""
    import numpy as np

    length = max(2, round(rng.uniform(0.08, 0.2) * digit_px))
    pixels = np.asarray(image, dtype=np.float32)
    padded = np.pad(pixels, ((0, 0), (length, length), (0, 0)), mode="edge")
    summed = np.cumsum(padded, axis=1)
    blurred = (summed[:, length:] - summed[:, :-length])[:, : pixels.shape[1]] / length
    return Image.fromarray(np.clip(blurred, 0, 255).astype(np.uint8))


def _number(rng: random.Random, bib_range: tuple[int, int]) -> str:
    return str(rng.randint(*bib_range))


def _runner_figure(
    rng: random.Random, source: tuple, runner: Runner
) -> tuple[Image.Image, Image.Image, tuple[int, int, int, int] | None]:
    """The runner as an RGBA-like pair (image, mask) and the bib's box inside it."""
    digit_px = runner.digit_px
    face_w = round(digit_px / rng.uniform(0.3, 0.42))
    shirt = tuple(rng.randint(20, 230) for _ in range(3))
    _, _, image, box = source
    head, head_mask, _, _ = datasets._head(image, box, face_w, "clean", rng)
    torso_w, torso_h = round(2.6 * face_w), round(3.6 * face_w)
    width = max(torso_w, head.width)
    neck = round(0.15 * face_w)
    height = head.height + torso_h - neck
    figure = Image.new("RGB", (width, height), shirt)
    mask = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(mask)
    tx0, ty0 = (width - torso_w) // 2, head.height - neck
    draw.rounded_rectangle((tx0, ty0, tx0 + torso_w, height), radius=face_w // 3, fill=255)
    hx = (width - head.width) // 2
    if runner.condition == "faceless":  # the back of a head, or a cap pulled down: no face
        hair = tuple(rng.randint(20, 80) for _ in range(3))
        figure.paste(hair, (hx, 0, hx + head.width, head.height))
    else:
        figure.paste(head, (hx, 0), head_mask)
    mask.paste(head_mask, (hx, 0), head_mask)
    bib_box = None
    if runner.bib is not None:
        bib, span = bib_image(runner.bib, digit_px, rng)
        if runner.condition == "fold":
            bib = _fold(bib, rng)
        if runner.condition in ("perspective", "fold"):
            bib = _perspective(bib, rng, 0.12 if runner.condition == "perspective" else 0.05)
        bib = bib.convert("RGBA").rotate(rng.uniform(-6, 6), Image.Resampling.BICUBIC, True)
        bib_mask = bib.getchannel("A")
        bib = bib.convert("RGB")
        bx = (width - bib.width) // 2 + rng.randint(-face_w // 6, face_w // 6)
        by = ty0 + round(rng.uniform(0.6, 1.3) * face_w)
        figure.paste(bib, (bx, by), bib_mask)
        bib_box = (by, bx + bib.width, by + bib.height, bx)
        if runner.condition == "occluded":
            _arm(figure, runner, bib_box, span, digit_px, rng)
    if runner.condition == "motion":
        figure = _motion(figure, rng, digit_px)
    return figure, mask, bib_box


def _arm(
    figure: Image.Image, runner: Runner, bib_box: tuple, span: tuple, digit_px: int, rng
) -> None:
    """An arm across one end of the number, hiding `hidden_digits` of its digits."""
    assert runner.bib is not None
    top, right, bottom, left = bib_box
    n = len(runner.bib)
    hidden = runner.hidden_digits or (rng.randint(1, max(1, n - 1)) if n > 1 else 1)
    runner.hidden_digits = hidden
    starts, ends = left + span[0] * (right - left), left + span[1] * (right - left)
    covered = (hidden + 0.15) * (ends - starts) / n
    skin = rng.choice(((224, 172, 105), (141, 85, 36), (255, 219, 172), (198, 134, 66)))
    draw = ImageDraw.Draw(figure)
    if rng.random() < 0.5:
        draw.rectangle(
            (left - digit_px, top - digit_px, starts + covered, bottom + digit_px), fill=skin
        )
    else:
        draw.rectangle(
            (ends - covered, top - digit_px, right + digit_px, bottom + digit_px), fill=skin
        )


def _boards(canvas: Image.Image, rng: random.Random) -> None:
    """Kilometre boards and a finish banner: numbers that are nobody's bib."""
    draw = ImageDraw.Draw(canvas)
    for _ in range(rng.randint(1, 3)):
        text = rng.choice(DISTRACTORS)
        font = _sized_font(rng.choice(fonts()), rng.randint(40, 160))
        x, y = rng.randint(0, canvas.width - 800), rng.randint(0, canvas.height // 3)
        x0, y0, x1, y1 = draw.textbbox((x, y), text, font=font)
        draw.rectangle((x0 - 20, y0 - 20, x1 + 20, y1 + 20), fill=(240, 200, 0))
        draw.text((x, y), text, fill=(0, 0, 0), font=font)


def races(
    sources: list[tuple[str, str, Image.Image, tuple]],
    count: int,
    *,
    seed: int = 30,
    size: tuple[int, int] = (6000, 4000),
    per_photo: tuple[int, int] = (2, 9),
    bib_range: tuple[int, int] = (1, 25_000),
    digit_sizes: tuple[int, ...] = DIGIT_SIZES,
    empty_every: int = 10,
) -> list[RacePhoto]:
    """`count` race photos: 2-9 runners each, one photo in `empty_every` with nobody.

    One runner in ten wears no bib; the others follow CONDITIONS. JPEG quality 70-92."""
    rng = random.Random(seed)
    photos = []
    for n in range(count):
        canvas = datasets._background(rng, size)
        _boards(canvas, rng)
        runners: list[Runner] = []
        taken: list[tuple[int, int, int, int]] = []
        crowd = 0 if empty_every and n % empty_every == empty_every - 1 else rng.randint(*per_photo)
        for _ in range(crowd):
            digit_px = rng.choice(digit_sizes)
            has_bib = rng.random() >= 0.1
            runner = Runner(
                _number(rng, bib_range) if has_bib else None, digit_px, rng.choice(CONDITIONS)
            )
            figure, mask, bib_box = _runner_figure(rng, rng.choice(sources), runner)
            spot = _place(rng, figure.size, size, taken)
            if spot is None:
                continue
            x, y = spot
            canvas.paste(figure, (x, y), mask)
            if bib_box is not None:
                top, right, bottom, left = bib_box
                runner.box = (top + y, right + x, bottom + y, left + x)
            runners.append(runner)
        photos.append(RacePhoto(f"race-{n}", _jpeg(canvas, rng.randint(70, 92)), runners))
    return photos


def race_photo(
    runners: list[tuple[tuple, Runner]],
    *,
    seed: int = 1,
    size: tuple[int, int] = (3000, 2000),
    boards: bool = False,
) -> RacePhoto:
    """One photo of these runners, each (face source, runner) as `races` makes them, side
    by side on the faceless background (tests build the case they check with it)."""
    rng = random.Random(seed)
    canvas = datasets._background(rng, size)
    if boards:
        _boards(canvas, rng)
    x = 40
    for source, runner in runners:
        figure, mask, bib_box = _runner_figure(rng, source, runner)
        y = size[1] - figure.height - 40
        canvas.paste(figure, (x, y), mask)
        if bib_box is not None:
            top, right, bottom, left = bib_box
            runner.box = (top + y, right + x, bottom + y, left + x)
        x += figure.width + 60
    return RacePhoto(f"race-of-{len(runners)}", _jpeg(canvas, 90), [r for _, r in runners])


def _place(rng, figure: tuple[int, int], size: tuple[int, int], taken: list) -> tuple | None:
    for _ in range(60):
        x = rng.randint(0, size[0] - figure[0])
        y = rng.randint(size[1] // 6, max(size[1] // 6, size[1] - figure[1]))
        spot = (x, y, x + figure[0], y + figure[1])
        if not any(
            spot[0] < t[2] and t[0] < spot[2] and spot[1] < t[3] and t[1] < spot[3] for t in taken
        ):
            taken.append(spot)
            return x, y
    return None


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def digit_bucket(px: int) -> str:
    return "20-29" if px < 30 else "30-39" if px < 40 else "40-59" if px < 60 else "60-80"
