"""Calibrate the lossy default qualities: bytes and SSIMULACRA2 per format on a mixed corpus.

    python -m vipsfront_bench calibrate [--corpus ../shared/corpus] [--widths 400,800,1600]
        [--formats jpeg,webp,avif] [--classes photo,graphic,screenshot] [--per-class 4]
        [--variant NAME=QUERY ...] [--ladder ENCODER=Q,Q,... ...] [--target 75] [--jobs 1] [--out build/bench]

The corpus mixes three classes: ``photo`` (the corpus photographs, 2560x1600 JPEGs), ``graphic`` and
``screenshot`` (generated here with libvips as PNGs: flat shapes, gradients, a chart, rendered text, a
page with a photo in it), so every class is large enough for a 1600 px output. For each image and width
the engine resizes it once to a lossless PNG (the pixels every encoder below sees); then

* each ``--variant`` is the engine's own output for a query (``default``: the format alone, so the
  engine's default quality; e.g. ``--variant q90=q=90``), through ``vipsfront.engine.run.transform``;
* each ``--ladder`` rung encodes those pixels with one of ``ENCODERS`` at one quality (the engine's
  encoder settings, and candidates for them such as JPEG quantisation table 3 with progressive scans).

Every output is scored with SSIMULACRA2 (the ``ssimulacra2`` package of the bench extra) against the
lossless pixels, so the score measures the encode alone. The summary gives, per format, width and class,
the summed bytes and the median score of every variant and rung; for each format the quality at which
each ladder's median score over ``--target-class`` at ``--target-width`` reaches ``--target`` (linear
between rungs); and each variant's bytes and median score against ``default`` on the whole corpus.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyvips

from vipsfront.engine.limits import Limits
from vipsfront.engine.run import transform
from vipsfront.url.grammar import build

CLASSES = ("photo", "graphic", "screenshot")
FORMATS = ("jpeg", "webp", "avif")
WIDTHS = (400, 800, 1600)
DEFAULT_CORPUS = Path("..") / "shared" / "corpus"
GENERATED_SIZE = (2400, 1500)

_LIMITS = Limits()
_JPEG: dict[str, Any] = {"optimize_coding": True, "keep": "none"}

# name → (format, encode(image, quality) -> bytes): the engine's settings (``jpeg-t3``, ``webp``, ``avif``),
# the standard JPEG table (the default before the calibration) and candidates (progressive scans).
ENCODERS: dict[str, tuple[str, Callable[[Any, int], bytes]]] = {
    "jpeg": ("jpeg", lambda image, q: bytes(image.jpegsave_buffer(Q=q, **_JPEG))),
    "jpeg-progressive": ("jpeg", lambda image, q: bytes(image.jpegsave_buffer(Q=q, interlace=True, **_JPEG))),
    "jpeg-t3": ("jpeg", lambda image, q: bytes(image.jpegsave_buffer(Q=q, quant_table=3, **_JPEG))),
    "jpeg-t3-progressive": (
        "jpeg",
        lambda image, q: bytes(image.jpegsave_buffer(Q=q, quant_table=3, interlace=True, **_JPEG)),
    ),
    "webp": ("webp", lambda image, q: bytes(image.webpsave_buffer(Q=q, effort=_LIMITS.webp_effort, keep="none"))),
    "avif": (
        "avif",
        lambda image, q: bytes(
            image.heifsave_buffer(Q=q, compression="av1", effort=_LIMITS.avif_effort, bitdepth=8, keep="none")
        ),
    ),
}


@dataclass(frozen=True, slots=True)
class Source:
    """One corpus image: its class, a name, and where its bytes come from (a file, or generated)."""

    cls: str
    name: str
    path: str | None = None
    make: Callable[[], bytes] | None = None

    def data(self) -> bytes:
        return self.make() if self.make else Path(str(self.path)).read_bytes()


@dataclass(frozen=True, slots=True)
class Row:
    """One output: ``config`` is a variant's name or ``encoder@quality``."""

    cls: str
    image: str
    width: int
    format: str
    config: str
    bytes: int
    score: float


# ---------------------------------------------------------------------------------------------------
# generated graphics and screenshots


def _canvas(width: int, height: int, rgb: Sequence[int]) -> Any:
    return (pyvips.Image.black(width, height, bands=3) + list(rgb)).cast("uchar").copy(interpretation="srgb")


def _gradient(width: int, height: int, start: Sequence[int], end: Sequence[int], radial: bool = False) -> Any:
    xy = pyvips.Image.xyz(width, height)
    if radial:
        t = ((xy[0] - width / 2) ** 2 + (xy[1] - height / 2) ** 2) ** 0.5 / (max(width, height) * 0.7)
    else:
        t = (xy[0] + xy[1]) / (width + height)
    t = (t > 1).ifthenelse(1, t)
    bands = [t * (b - a) + a for a, b in zip(start, end, strict=True)]
    return bands[0].bandjoin(bands[1:]).cast("uchar").copy(interpretation="srgb")


def _text(
    image: Any, markup: str, x: int, y: int, rgb: Sequence[int], size: int, width: int = 0, font: str = "DejaVu Sans"
) -> Any:
    """``image`` with ``markup`` drawn at ``x``, ``y`` in ``rgb`` (antialiased, as a browser renders)."""
    mask = pyvips.Image.text(markup, font=f"{font} {size}", dpi=72, width=width or image.width - x)
    width_, height_ = min(mask.width, image.width - x), min(mask.height, image.height - y)
    mask = mask.crop(0, 0, width_, height_)
    area = image.crop(x, y, width_, height_)
    ink = (area.new_from_image(list(rgb)) * mask + area * (255 - mask)) / 255
    return image.insert(ink.cast("uchar"), x, y)


def _rect(image: Any, rgb: Sequence[int], x: int, y: int, w: int, h: int) -> Any:
    return image.draw_rect(list(rgb), x, y, w, h, fill=True)


_LOREM = (
    "Image transformations run on demand: the first request for a variant resizes the original and stores "
    "the result, every later request is served from the cache. Quality defaults are calibrated so that every "
    "browser sees the same look, whichever format it accepts. "
)


def _png(image: Any) -> bytes:
    return bytes(image.pngsave_buffer(compression=6))


def flat_illustration() -> bytes:
    """Flat shapes on a soft gradient, a heading: a hero illustration."""
    width, height = GENERATED_SIZE
    image = _gradient(width, height, (250, 214, 165), (255, 244, 230))
    image = image.draw_circle([231, 111, 81], 1700, 650, 420, fill=True)
    image = image.draw_circle([42, 157, 143], 1950, 1050, 260, fill=True)
    image = _rect(image, [38, 70, 83], 180, 900, 900, 360)
    image = _rect(image, [233, 196, 106], 260, 980, 300, 200)
    image = image.draw_line([38, 70, 83], 0, 1400, width, 1300)
    return _png(_text(image, "<b>Ship images faster</b>", 180, 300, (38, 70, 83), 110))


def chart() -> bytes:
    """A bar and line chart with axes, grid and labels on white."""
    width, height = GENERATED_SIZE
    image = _canvas(width, height, (255, 255, 255))
    colours = ([66, 133, 244], [219, 68, 55], [244, 180, 0], [15, 157, 88])
    for i in range(11):
        image = _rect(image, [230, 230, 230], 200, 200 + i * 110, width - 300, 2)
    for i in range(16):
        value = (i * 37 % 11 + 2) * 90
        image = _rect(image, colours[i % 4], 240 + i * 130, 1300 - value, 90, value)
        image = _text(image, f"Q{i % 4 + 1}", 255 + i * 130, 1320, (90, 90, 90), 28)
    for i in range(15):
        y0, y1 = 400 + (i * 53 % 300), 400 + ((i + 1) * 53 % 300)
        for d in range(-3, 4):
            image = image.draw_line([32, 33, 36], 285 + i * 130, y0 + d, 285 + (i + 1) * 130, y1 + d)
    return _png(_text(image, "<b>Monthly requests by region</b>", 200, 60, (32, 33, 36), 64))


def gradients() -> bytes:
    """Radial and linear gradients with soft overlapping discs: banding shows first here."""
    width, height = GENERATED_SIZE
    image = _gradient(width, height, (20, 30, 90), (140, 60, 160), radial=True)
    glow = _gradient(width, height, (255, 160, 60), (10, 10, 40))
    image = (image.cast("float") * 0.7 + glow.cast("float") * 0.3).cast("uchar")
    for i, (x, y, r) in enumerate(((600, 500, 300), (1500, 800, 450), (2000, 300, 200))):
        disc = pyvips.Image.black(width, height).draw_circle(255, x, y, r, fill=True).gaussblur(40)
        tint = [255, 220 - i * 60, 120 + i * 50]
        image = ((image.cast("float") * (255 - disc) + disc * tint) / 255).cast("uchar")
    return _png(image.copy(interpretation="srgb"))


def icons() -> bytes:
    """A grid of flat icons and captions: a feature section."""
    width, height = GENERATED_SIZE
    image = _canvas(width, height, (246, 248, 250))
    palette = ([99, 102, 241], [236, 72, 153], [16, 185, 129], [245, 158, 11], [59, 130, 246], [239, 68, 68])
    for i in range(12):
        x, y = 150 + (i % 4) * 560, 150 + (i // 4) * 450
        colour = palette[i % len(palette)]
        image = _rect(image, [255, 255, 255], x, y, 480, 380)
        image = image.draw_circle(colour, x + 240, y + 130, 90, fill=True)
        image = _rect(image, [255, 255, 255], x + 205, y + 95, 70, 70)
        image = _text(image, f"<b>Feature {i + 1}</b>\nFast, cached, signed", x + 90, y + 250, (55, 65, 81), 30)
    return _png(image)


def document() -> bytes:
    """A text page: header bar, headings and paragraphs, as a 2x screenshot of an article."""
    width, height = GENERATED_SIZE
    image = _rect(_canvas(width, height, (255, 255, 255)), [36, 41, 47], 0, 0, width, 120)
    image = _text(image, "<b>vipsfront</b>   Docs   Guides   API", 60, 35, (255, 255, 255), 40)
    image = _text(image, "<b>Quality defaults</b>", 300, 200, (20, 20, 20), 72)
    image = _text(image, _LOREM * 4, 300, 340, (51, 51, 51), 30, width=1800, font="DejaVu Serif")
    image = _text(image, "<b>Method</b>", 300, 800, (20, 20, 20), 48)
    return _png(_text(image, _LOREM * 5, 300, 900, (51, 51, 51), 30, width=1800, font="DejaVu Serif"))


def dashboard() -> bytes:
    """A web app: sidebar, cards with figures, buttons and a table of rows."""
    width, height = GENERATED_SIZE
    image = _rect(_canvas(width, height, (243, 244, 246)), [17, 24, 39], 0, 0, 420, height)
    for i, item in enumerate(("Overview", "Variants", "Originals", "Settings", "Billing")):
        image = _text(image, item, 60, 120 + i * 80, (209, 213, 219), 32)
    for i, (label, value) in enumerate((("Hits", "98.2 %"), ("Misses", "1 204"), ("p50", "38 ms"))):
        x = 500 + i * 620
        image = _rect(image, [255, 255, 255], x, 80, 560, 260)
        image = _text(image, label, x + 40, 120, (107, 114, 128), 30)
        image = _text(image, f"<b>{value}</b>", x + 40, 190, (17, 24, 39), 64)
    image = _rect(image, [255, 255, 255], 500, 420, 1800, 1000)
    for row in range(12):
        y = 450 + row * 78
        image = _rect(image, [229, 231, 235], 520, y + 70, 1760, 2)
        cells = (f"photos/img_{row:04d}.jpg", f"w={(row + 2) * 100}", ("webp", "avif", "jpeg")[row % 3], "200 OK")
        for c, cell in enumerate(cells):
            image = _text(image, cell, 540 + c * 440, y + 20, (55, 65, 81), 28)
    image = _rect(image, [37, 99, 235], 1900, 1440, 400, 50)
    return _png(_text(image, "<b>Invalidate</b>", 2000, 1450, (255, 255, 255), 28))


def code() -> bytes:
    """A dark code editor: monospace, syntax colours, line numbers."""
    width, height = GENERATED_SIZE
    image = _rect(_canvas(width, height, (30, 30, 30)), [37, 37, 38], 0, 0, 140, height)
    colours = ((86, 156, 214), (206, 145, 120), (220, 220, 170), (106, 153, 85), (212, 212, 212))
    words = ("def", "transform(data, spec):", "return", "# encode at the default quality", "image.resize(0.5)")
    for line in range(36):
        y = 20 + line * 40
        image = _text(image, f"{line + 1:3d}", 20, y, (133, 133, 133), 26, font="DejaVu Sans Mono")
        x = 180 + (line % 4) * 60
        for k in range(1 + line % 3):
            word = words[(line + k) % len(words)]
            image = _text(image, word, x, y, colours[(line + k) % len(colours)], 26, font="DejaVu Sans Mono")
            x += 20 * (len(word) + 1)
    return _png(image)


def page_with_photo(photo: Path) -> bytes:
    """A blog page: a photo in the middle of text."""
    width, height = GENERATED_SIZE
    image = _text(_canvas(width, height, (255, 255, 255)), "<b>A walk by the water</b>", 300, 80, (0, 0, 0), 64)
    picture = pyvips.Image.thumbnail(str(photo), 1800, height=700, crop="centre")
    image = image.insert(picture.colourspace("srgb")[:3].cast("uchar"), 300, 220)
    return _png(_text(image, _LOREM * 4, 300, 960, (40, 40, 40), 30, width=1800))


GRAPHICS: dict[str, Callable[[], bytes]] = {
    "flat-illustration": flat_illustration,
    "chart": chart,
    "gradients": gradients,
    "icons": icons,
}
SCREENSHOTS: dict[str, Callable[[], bytes]] = {"document": document, "dashboard": dashboard, "code": code}


def sources(corpus: Path, classes: Iterable[str], per_class: int) -> list[Source]:
    """``per_class`` images of each class: the corpus photos (sorted by name), the generated ones."""
    photos = sorted((corpus / "photos").glob("*.jpg"))
    if not photos:
        raise SystemExit(f"no photos in {corpus / 'photos'}: pass --corpus (see the corpus' SOURCES.md)")
    generated = {
        "graphic": [Source("graphic", name, make=make) for name, make in GRAPHICS.items()],
        "screenshot": [Source("screenshot", name, make=make) for name, make in SCREENSHOTS.items()]
        + [Source("screenshot", "page-with-photo", make=functools.partial(page_with_photo, photos[0]))],
        "photo": [Source("photo", p.stem, str(p)) for p in photos],
    }
    return [source for cls in classes for source in generated[cls][:per_class]]


# ---------------------------------------------------------------------------------------------------
# measuring


def _png_of(data: bytes) -> io.BytesIO:
    image = pyvips.Image.new_from_buffer(data, "")
    if image.hasalpha():
        image = image.flatten(background=[255, 255, 255])
    return io.BytesIO(bytes(image.colourspace("srgb").cast("uchar").pngsave_buffer(compression=1)))


def score(reference: bytes, output: bytes) -> float:
    """SSIMULACRA2 of ``output`` (any format libvips reads) against ``reference`` (a PNG)."""
    from ssimulacra2 import compute_ssimulacra2

    return float(compute_ssimulacra2(io.BytesIO(reference), _png_of(output)))


@dataclass(frozen=True, slots=True)
class Job:
    source: Source
    width: int
    formats: tuple[str, ...]
    variants: tuple[tuple[str, str], ...]  # (name, query without w and fm)
    ladders: tuple[tuple[str, tuple[int, ...]], ...]  # (encoder, qualities)


def _query(text: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in text.split("&") if part)


def measure(job: Job) -> list[Row]:
    """Every variant and ladder rung of one image at one width, in every format."""
    data = job.source.data()
    lossless = transform(data, build({"w": str(job.width), "fm": "png"})).data
    pixels = pyvips.Image.new_from_buffer(lossless, "").copy_memory()
    rows = []

    def row(fmt: str, config: str, output: bytes) -> Row:
        return Row(job.source.cls, job.source.name, job.width, fmt, config, len(output), score(lossless, output))

    for fmt in job.formats:
        for name, query in job.variants:
            output = transform(data, build({**_query(query), "w": str(job.width), "fm": fmt})).data
            rows.append(row(fmt, name, output))
        for encoder, qualities in job.ladders:
            encoder_format, encode = ENCODERS[encoder]
            if encoder_format == fmt:
                rows += [row(fmt, f"{encoder}@{q}", encode(pixels, q)) for q in qualities]
    return rows


# ---------------------------------------------------------------------------------------------------
# the summary


def _median(rows: Iterable[Row]) -> float:
    return statistics.median(r.score for r in rows)


def _configs(rows: Sequence[Row]) -> list[str]:
    return list(dict.fromkeys(r.config for r in rows))


def table(rows: Sequence[Row]) -> list[str]:
    """Per format, width and class: KB summed and median SSIMULACRA2 of every config."""
    lines = [
        "| format | width | class | config | KB | median SSIMULACRA2 | min |",
        "| --- | ---: | --- | --- | ---: | ---: | ---: |",
    ]
    groups: dict[tuple[str, int, str, str], list[Row]] = defaultdict(list)
    for r in rows:
        groups[(r.format, r.width, r.cls, r.config)].append(r)
    for (fmt, width, cls, config), group in sorted(
        groups.items(), key=lambda kv: (FORMATS.index(kv[0][0]), *kv[0][1:])
    ):
        kb = sum(r.bytes for r in group) / 1024
        low = min(r.score for r in group)
        lines.append(f"| {fmt} | {width} | {cls} | {config} | {kb:.0f} | {_median(group):.1f} | {low:.1f} |")
    return lines


def versus_default(rows: Sequence[Row]) -> list[str]:
    """Each config against ``default`` on the cases both have: bytes and median score, per format and overall."""
    lines = [
        "| config | format | cases | bytes vs default | median SSIMULACRA2 default → config |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    index = {(r.cls, r.image, r.width, r.format, r.config): r for r in rows}
    for config in _configs(rows):
        if config == "default":
            continue
        for fmt in (*FORMATS, "all"):
            pairs = [
                (index[(*k[:4], "default")], r)
                for k, r in index.items()
                if k[4] == config and (fmt == "all" or k[3] == fmt) and (*k[:4], "default") in index
            ]
            if not pairs:
                continue
            base, other = sum(p[0].bytes for p in pairs), sum(p[1].bytes for p in pairs)
            lines.append(
                f"| {config} | {fmt} | {len(pairs)} | {100 * (other / base - 1):+.1f} % "
                f"| {_median(p[0] for p in pairs):.1f} → {_median(p[1] for p in pairs):.1f} |"
            )
    return lines


def calibration(rows: Sequence[Row], target: float, cls: str, width: int) -> list[str]:
    """Per ladder, the quality whose median score over ``cls`` at ``width`` reaches ``target``."""
    lines = [
        f"| encoder | median SSIMULACRA2 by quality ({cls}, {width} px) | quality for {target} |",
        "| --- | --- | ---: |",
    ]
    ladders: dict[str, dict[int, float]] = defaultdict(dict)
    for config in _configs(rows):
        if "@" not in config:
            continue
        encoder, q = config.split("@")
        group = [r for r in rows if r.config == config and r.cls == cls and r.width == width]
        if group:
            ladders[encoder][int(q)] = _median(group)
    for encoder, points in ladders.items():
        rungs = sorted(points.items())
        found = next(
            (
                q0 + (q1 - q0) * (target - s0) / (s1 - s0) if s1 != s0 else q1
                for (q0, s0), (q1, s1) in zip(rungs, rungs[1:], strict=False)
                if s0 <= target <= s1
            ),
            None,
        )
        found_text = f"{found:.1f}" if found is not None else "outside the ladder"
        lines.append(f"| {encoder} | {', '.join(f'{q}: {s:.1f}' for q, s in rungs)} | {found_text} |")
    return lines


# ---------------------------------------------------------------------------------------------------
# the command


def _ladder(text: str) -> tuple[str, tuple[int, ...]]:
    encoder, _, qualities = text.partition("=")
    if encoder not in ENCODERS:
        raise argparse.ArgumentTypeError(f"unknown encoder {encoder!r}: one of {', '.join(ENCODERS)}")
    return encoder, tuple(int(q) for q in qualities.split(","))


def _variant(text: str) -> tuple[str, str]:
    name, _, query = text.partition("=")
    return name, query


def _csv(text: str) -> list[str]:
    return [part for part in text.split(",") if part]


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The options beside the entry point's ``--out`` and ``--quick`` (one image per class, 400 px)."""
    p.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    p.add_argument("--classes", type=_csv, default=list(CLASSES))
    p.add_argument("--per-class", type=int, default=4, help="images per class (4)")
    p.add_argument("--widths", type=lambda t: [int(w) for w in _csv(t)], default=list(WIDTHS))
    p.add_argument("--formats", type=_csv, default=list(FORMATS))
    p.add_argument("--variant", type=_variant, action="append", default=[], help="NAME=QUERY, the engine's output")
    p.add_argument("--ladder", type=_ladder, action="append", default=[], help="ENCODER=Q,Q,...")
    p.add_argument("--target", type=float, default=75.0, help="SSIMULACRA2 the calibration aims at (75)")
    p.add_argument("--target-class", default="photo")
    p.add_argument("--target-width", type=int, default=800)
    p.add_argument("--jobs", type=int, default=1, help="processes (1)")


def run(args: argparse.Namespace) -> int:
    """Measure, print the summary, write ``calibrate.json`` (every output) and ``calibrate.md`` to ``--out``."""
    try:
        import ssimulacra2  # noqa: F401
    except ImportError:
        print("calibrate needs the bench extra: pip install -e '.[bench]'", file=sys.stderr)
        return 2
    per_class, widths = (1, [400]) if args.quick else (args.per_class, args.widths)
    variants = (("default", ""), *args.variant)
    jobs = [
        Job(source, width, tuple(args.formats), tuple(variants), tuple(args.ladder))
        for source in sources(args.corpus, args.classes, per_class)
        for width in widths
    ]
    rows: list[Row] = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for done, result in enumerate(pool.map(measure, jobs), 1):
            rows += result
            print(f"{done}/{len(jobs)} {jobs[done - 1].source.name} {jobs[done - 1].width}", file=sys.stderr)
    lines = [*table(rows), "", *versus_default(rows), ""]
    if args.ladder:
        lines += calibration(rows, args.target, args.target_class, args.target_width)
    report = "\n".join(lines) + "\n"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "calibrate.json").write_text(json.dumps([asdict(r) for r in rows], indent=1) + "\n")
    (args.out / "calibrate.md").write_text(report)
    print(report, end="")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """``calibrate`` on its own: the entry point's ``--out`` and ``--quick`` plus ``add_arguments``."""
    p = argparse.ArgumentParser(prog="vipsfront_bench calibrate", description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=Path("build") / "bench")
    p.add_argument("--quick", action="store_true", help="one image per class at 400 px")
    add_arguments(p)
    return run(p.parse_args(argv))
