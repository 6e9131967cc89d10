"""``q=auto`` against the fixed default quality: bytes, SSIMULACRA2 and the time the search adds.

    python3 benchmarks/quality_auto.py [--corpus ../shared/corpus] [--widths 400,800,1600]
        [--formats webp,avif,jpeg] [--level auto] [--repeat 3] [--json out.json] [--calibrate out.jsonl]

For every corpus image (``photos/``, ``large/``, ``small/``), width and format, the engine's pipeline
resizes the image once; then the engine's encoder writes it at the fixed default quality and
``vipsfront.engine.autoquality.choose`` picks a quality. Both outputs are judged against the unencoded resized
image with SSIMULACRA2 (the ``ssimulacra2`` package, installed by the ``bench`` extra), an independent
metric: the search itself uses SSIM, so it cannot grade its own homework. Images with alpha are scored
flattened on a dark and on a light background, the lower score counts.

Goals (issue "q=auto"): at least 20 % fewer bytes than the fixed default summed over the corpus; median
SSIMULACRA2 no lower than the fixed default's; no image more than ``MARGIN`` points below its fixed-default
score; p50 time (resize + encode) with ``q=auto`` no more than 1.5x the fixed quality's. Times are the
median of ``--repeat`` runs, the fixed and the ``q=auto`` transform alternating, so load hits both alike.

``--calibrate`` writes, for every case and every quality in ``CALIBRATION``, bytes, the pooled SSIM
``q=auto`` scores with and SSIMULACRA2, for the fixed and the tuned encoder: the data ``autoquality.TUNING``
was chosen from (the quality whose median SSIMULACRA2 matches the fixed default's). ``--oracle FILE`` reads
such a file and prints what a per-image choice could save at best: each case takes its smallest rung whose
SSIMULACRA2 is at most ``m`` points below its own fixed default (SSIMULACRA2 itself choosing, which no
search may use), against one quality for every image.

Readings and what they say about the goals: README, Benchmarks, "Bytes: q=auto".

Peers' default encoders (``PEERS``: sharp, which the AWS sample also encodes with; Pillow; thumbor's Pillow
at QUALITY 80) run on the same resized pixels, so only the encoder settings differ.
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyvips

from vipsfront.engine import autoquality

from vipsfront.engine import run as engine
from vipsfront.engine.limits import Limits
from vipsfront.url.spec import Fm, Format, Spec

try:
    from ssimulacra2 import compute_ssimulacra2
except ImportError:  # pragma: no cover - a message, not a traceback
    sys.exit("benchmarks/quality_auto.py needs the bench extra: pip install -e '.[bench]'")

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("photos", "large", "small")
WIDTHS = (400, 800, 1600)
FORMATS = ("webp", "avif", "jpeg")
DEFAULTS = {"jpeg": engine.JPEG_QUALITY, "webp": engine.WEBP_QUALITY, "avif": engine.AVIF_QUALITY}
MARGIN = 3.0  # SSIMULACRA2 points an image may lose against the fixed default
SAVING_GOAL = 0.20
TIME_GOAL = 1.5
CALIBRATION = {
    "jpeg": (66, 70, 74, 76, 78, 80, 82, 86),
    "webp": (68, 72, 76, 78, 80, 84, 88),
    "avif": (40, 44, 46, 48, 50, 52, 56),
}


@dataclass(frozen=True, slots=True)
class Case:
    image: str
    width: int
    format: str
    default_bytes: int
    default_s2: float
    default_ms: float  # resize + encode at the default quality
    auto_bytes: int
    auto_s2: float
    auto_ms: float  # resize + choose
    auto_quality: int
    auto_encodes: int
    auto_score: float | None
    extra: dict[str, tuple[int, float]]  # encoder name -> (bytes, SSIMULACRA2)


def corpus(root: Path) -> Iterator[tuple[str, bytes]]:
    for folder in FOLDERS:
        for path in sorted((root / folder).glob("*")):
            if path.suffix.lower() in (".jpg", ".jpeg", ".png"):
                yield f"{folder}/{path.name}", path.read_bytes()


def resized(data: bytes, width: int, fmt: str, limits: Limits = Limits()) -> tuple[Any, autoquality.Encode]:  # noqa: B008
    """The engine's unencoded output for ``w=width&fm=fmt``, in memory, and its fixed-settings encoder.

    The one place this script reaches into the engine's steps; it follows the engine's pipeline.
    """
    spec = Spec(w=width, fm=Fm(fmt))
    info, operation = engine._probe(data, limits)
    plan = engine.make_plan(info, spec, limits)
    image = engine.load(data, plan, operation)
    for step in engine.STEPS:
        image = step(image, plan)
    return image.copy_memory(), engine.lossy_encoder(Format(fmt), limits)


SHARP_DIR = ROOT / "benchmarks" / "peers" / "sharp"
SHARP_SCRIPT = (
    "const sharp=require('sharp');const c=[];process.stdin.on('data',d=>c.push(d)).on('end',async()=>"
    "{const f=process.argv[1];const o=await sharp(Buffer.concat(c))[f==='jpeg'?'jpeg':f]().toBuffer();"
    "process.stdout.write(o);});"
)


def sharp_default(image: Any, fmt: str) -> bytes:
    """sharp's default encoder settings (jpeg q80 4:2:0, webp q80 effort 4, avif q50 effort 4) on the same
    pixels; the AWS sample calls ``toFormat(format)`` without a quality, so it encodes the same."""
    return subprocess.run(
        ["node", "-e", SHARP_SCRIPT, fmt],
        input=bytes(image.pngsave_buffer(compression=1)),
        capture_output=True,
        check=True,
        cwd=SHARP_DIR,
    ).stdout


def pillow_at(image: Any, fmt: str, quality: int | None) -> bytes:
    """Pillow's encoders on the same pixels (``quality=None``: Pillow's defaults, JPEG 75, WebP 80, AVIF 75)."""
    from PIL import Image

    picture = Image.open(io.BytesIO(bytes(image.pngsave_buffer(compression=1))))
    out = io.BytesIO()
    options = {} if quality is None else {"quality": quality}
    picture.save(out, {"jpeg": "JPEG", "webp": "WEBP", "avif": "AVIF"}[fmt], **options)
    return out.getvalue()


# Peers' default encoders, on the engine's resized pixels: thumbor uses Pillow at its QUALITY (80;
# WEBP_QUALITY and AVIF_QUALITY default to None, which means QUALITY).
PEERS: dict[str, Callable[[Any, str], bytes]] = {
    "sharp / AWS sample": sharp_default,
    "Pillow": lambda image, fmt: pillow_at(image, fmt, None),
    "thumbor (Pillow q80)": lambda image, fmt: pillow_at(image, fmt, 80),
}


def _png(image: Any) -> io.BytesIO:
    return io.BytesIO(bytes(image.pngsave_buffer(compression=1)))


def ssimulacra2(reference: Any, data: bytes) -> float:
    """SSIMULACRA2 of encoded ``data`` against the unencoded ``reference`` (alpha: worse of dark/light)."""
    distorted = pyvips.Image.new_from_buffer(data, "")
    if not reference.hasalpha():
        return float(compute_ssimulacra2(_png(reference), _png(distorted)))
    scores = []
    for grey in (26, 230):  # 0.1 and 0.9, as SSIMULACRA2's own tool does
        # an encoder may drop an alpha band that is all opaque (WebP does): then there is nothing to flatten
        flat = [
            img.flatten(background=[grey] * (img.bands - 1)) if img.hasalpha() else img
            for img in (reference, distorted)
        ]
        scores.append(compute_ssimulacra2(_png(flat[0]), _png(flat[1])))
    return float(min(scores))


def _ms(start: float) -> float:
    return (time.perf_counter() - start) * 1000.0


def measure(
    name: str, data: bytes, width: int, fmt: str, level: autoquality.Level, peers: bool, repeat: int = 3
) -> Case:
    """One case through ``engine.transform`` (the miss's work: decode, resize, encode or search), at the
    fixed default and at ``q=level``, both judged against the unencoded resize; times: the median of
    ``repeat`` alternating runs."""
    image, _ = resized(data, width, fmt)
    fixed_spec, auto_spec = Spec(w=width, fm=Fm(fmt)), Spec(w=width, fm=Fm(fmt), q=level)
    default_times, auto_times = [], []
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        default = engine.transform(data, fixed_spec)
        default_times.append(_ms(started))
        started = time.perf_counter()
        auto = engine.transform(data, auto_spec)
        auto_times.append(_ms(started))
    chosen = auto.notes.get("qauto", "")
    extra = {}
    for peer, peer_encode in (PEERS if peers else {}).items():
        try:
            out = peer_encode(image, fmt)
        except (subprocess.CalledProcessError, OSError, KeyError, ValueError) as error:
            print(f"{peer} {fmt}: {error}", file=sys.stderr)
            continue
        extra[peer] = (len(out), ssimulacra2(image, out))
    return Case(
        image=name,
        width=width,
        format=fmt,
        default_bytes=len(default.data),
        default_s2=ssimulacra2(image, default.data),
        default_ms=statistics.median(default_times),
        auto_bytes=len(auto.data),
        auto_s2=ssimulacra2(image, auto.data),
        auto_ms=statistics.median(auto_times),
        auto_quality=int(chosen.split()[0].removeprefix("q=")) if chosen else 0,
        auto_encodes=int(chosen.split()[1].removeprefix("n=")) if chosen else 0,
        auto_score=None,
        extra=extra,
    )


def calibrate(name: str, data: bytes, width: int, fmt: str) -> list[dict[str, Any]]:
    """Every quality in ``CALIBRATION`` of one case, fixed and tuned encoder: bytes, the pooled SSIM
    ``q=auto`` scores with, and SSIMULACRA2."""
    image, fixed = resized(data, width, fmt)
    tuned = engine.lossy_encoder(Format(fmt), Limits(), tuned=True)
    rows = []
    for encoder, encode in (("fixed", fixed), ("tuned", tuned)):
        if encoder == "tuned" and fmt != "jpeg":  # WebP and AVIF: the same settings
            continue
        for quality in CALIBRATION[fmt]:
            out = encode(image, quality)
            rows.append(
                {
                    "image": name,
                    "width": width,
                    "format": fmt,
                    "encoder": encoder,
                    "q": quality,
                    "bytes": len(out),
                    "ssim": autoquality.score(image, pyvips.Image.new_from_buffer(out, "")),
                    "s2": ssimulacra2(image, out),
                }
            )
    return rows


# ---------------------------------------------------------------------------------------------------
# report


def _met(ok: bool) -> str:
    return "met" if ok else "not met"


def summary(cases: list[Case]) -> dict[str, Any]:
    default_bytes = sum(c.default_bytes for c in cases)
    auto_bytes = sum(c.auto_bytes for c in cases)
    deltas = [c.auto_s2 - c.default_s2 for c in cases]
    default_p50 = statistics.median(c.default_ms for c in cases)
    auto_p50 = statistics.median(c.auto_ms for c in cases)
    return {
        "cases": len(cases),
        "saving": 1 - auto_bytes / default_bytes,
        "default_median_s2": statistics.median(c.default_s2 for c in cases),
        "auto_median_s2": statistics.median(c.auto_s2 for c in cases),
        "mean_delta": statistics.mean(deltas),
        "min_delta": min(deltas),
        "worst": min(cases, key=lambda c: c.auto_s2 - c.default_s2),
        "default_p50_ms": default_p50,
        "auto_p50_ms": auto_p50,
        "ratio_p50": statistics.median(c.auto_ms / c.default_ms for c in cases),
        "mean_encodes": statistics.mean(c.auto_encodes for c in cases),
    }


def _cell(rows: list[tuple[int, float]]) -> str:
    """KB summed, median SSIMULACRA2."""
    if not rows:
        return "-"
    return f"{sum(b for b, _ in rows) / 1024:.0f} KB, {statistics.median(s for _, s in rows):.1f}"


def _groups(cases: list[Case]) -> list[tuple[str, int]]:
    return sorted({(c.format, c.width) for c in cases}, key=lambda g: (FORMATS.index(g[0]), g[1]))


def markdown(cases: list[Case], level: str) -> str:
    lines = [
        f"## `q={level}` against the fixed default quality",
        "",
        "| format | width | images | KB default | KB auto | saved | median SSIMULACRA2 default → auto"
        " | mean Δ | worst Δ | p50 ms default → auto | p50 of ratios | encodes |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for fmt, width in [*_groups(cases), *[(f, 0) for f in FORMATS if any(c.format == f for c in cases)], ("all", 0)]:
        chosen = [c for c in cases if fmt == "all" or (c.format == fmt and width in (0, c.width))]
        s = summary(chosen)
        lines.append(
            f"| {fmt} | {width or 'all'} | {s['cases']} | {sum(c.default_bytes for c in chosen) / 1024:.0f}"
            f" | {sum(c.auto_bytes for c in chosen) / 1024:.0f} | {s['saving']:.1%}"
            f" | {s['default_median_s2']:.1f} → {s['auto_median_s2']:.1f} | {s['mean_delta']:+.1f}"
            f" | {s['min_delta']:+.1f} | {s['default_p50_ms']:.0f} → {s['auto_p50_ms']:.0f}"
            f" | {s['ratio_p50']:.2f}x | {s['mean_encodes']:.1f} |"
        )
    extra_names = sorted({n for c in cases for n in c.extra})
    if extra_names:
        header = " | ".join(["ours fixed", "ours q=auto", *extra_names])
        lines += [
            "",
            "KB summed and median SSIMULACRA2 of each encoder's default, on the same resized pixels:",
            "",
            f"| format | width | {header} |",
            "| --- | --- | " + " | ".join("---" for _ in range(len(extra_names) + 2)) + " |",
        ]
        for fmt, width in _groups(cases):
            chosen = [c for c in cases if (c.format, c.width) == (fmt, width)]
            cells = [
                _cell([(c.default_bytes, c.default_s2) for c in chosen]),
                _cell([(c.auto_bytes, c.auto_s2) for c in chosen]),
            ]
            cells += [_cell([c.extra[n] for c in chosen if n in c.extra]) for n in extra_names]
            lines.append(f"| {fmt} | {width} | " + " | ".join(cells) + " |")
    s = summary(cases)
    worst = s["worst"]
    ratio = s["auto_p50_ms"] / s["default_p50_ms"]
    lines += [
        "",
        "| goal | reading | |",
        "| --- | --- | --- |",
        f"| ≥ {SAVING_GOAL:.0%} fewer bytes, summed | {s['saving']:.1%} | {_met(s['saving'] >= SAVING_GOAL)} |",
        f"| median SSIMULACRA2 no lower | {s['default_median_s2']:.2f} → {s['auto_median_s2']:.2f}"
        f" | {_met(s['auto_median_s2'] >= s['default_median_s2'])} |",
        f"| no image more than {MARGIN:g} points below | worst {s['min_delta']:+.2f} ({worst.image}"
        f" {worst.format} {worst.width}) | {_met(s['min_delta'] >= -MARGIN)} |",
        f"| p50 ≤ {TIME_GOAL}x fixed quality | {s['auto_p50_ms']:.0f} / {s['default_p50_ms']:.0f} ms"
        f" = {ratio:.2f}x (p50 of per-case ratios {s['ratio_p50']:.2f}x) | {_met(ratio <= TIME_GOAL)} |",
    ]
    return "\n".join(lines)


def oracle(rows: list[dict[str, Any]]) -> str:
    """What per-image choice could save at best, from ``--calibrate`` rows (see the module docstring)."""
    cases: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for row in rows:
        cases.setdefault((row["image"], row["width"], row["format"]), []).append(row)
    base = {
        key: next(r for r in rungs if r["encoder"] == "fixed" and r["q"] == DEFAULTS[key[2]])
        for key, rungs in cases.items()
    }
    total = sum(b["bytes"] for b in base.values())
    median = statistics.median(b["s2"] for b in base.values())

    def line(label: str, picks: dict[tuple[str, int, str], dict[str, Any]]) -> str:
        saved = 1 - sum(r["bytes"] for r in picks.values()) / total
        worst = min(r["s2"] - base[key]["s2"] for key, r in picks.items())
        return f"| {label} | {saved:.1%} | {statistics.median(r['s2'] for r in picks.values()):.2f} | {worst:+.1f} |"

    lines = [
        f"{len(cases)} cases; fixed default: median SSIMULACRA2 {median:.2f}",
        "",
        "| choice | saved | median | worst Δ |",
        "| --- | --- | --- | --- |",
    ]
    for encoder, quality in sorted({(r["encoder"], r["q"]) for r in rows}):
        picks = {
            key: next((r for r in rungs if (r["encoder"], r["q"]) == (encoder, quality)), base[key])
            for key, rungs in cases.items()
        }
        lines.append(line(f"every image {encoder} q{quality}", picks))
    for margin in (0.0, 1.0, 2.0, 3.0):
        picks = {
            key: min((r for r in rungs if r["s2"] >= base[key]["s2"] - margin), key=lambda r: r["bytes"])
            for key, rungs in cases.items()
        }
        lines.append(line(f"each image its smallest rung at most {margin:g} points below its default", picks))
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--widths", default=",".join(map(str, WIDTHS)))
    parser.add_argument("--formats", default=",".join(FORMATS))
    parser.add_argument("--level", default="auto", type=autoquality.parse_level)
    parser.add_argument("--only", default="", help="comma-separated substrings of image names")
    parser.add_argument("--no-peers", action="store_true", help="skip the peers' default encoders")
    parser.add_argument("--sample-at", default="1600:4", help="WIDTH:N: only every N-th image at WIDTH (time)")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per case (median)")
    parser.add_argument("--json", type=Path, help="write every case here")
    parser.add_argument(
        "--calibrate", type=Path, help="write every ladder rung of every case here (JSON lines), no report"
    )
    parser.add_argument("--oracle", type=Path, help="read a --calibrate file and print the per-image bound")
    args = parser.parse_args(argv)
    if args.oracle:
        print(oracle([json.loads(line) for line in args.oracle.read_text().splitlines() if line.strip()]))
        return 0
    if not args.corpus.is_dir():
        print(f"no corpus at {args.corpus} (pass --corpus)", file=sys.stderr)
        return 2
    widths = [int(w) for w in args.widths.split(",")]
    formats = [f for f in args.formats.split(",") if f]
    for fmt in formats:
        if fmt not in autoquality.TUNING:
            print(f"unknown format {fmt!r}: choose from {', '.join(autoquality.TUNING)}", file=sys.stderr)
            return 2
    images = [(n, d) for n, d in corpus(args.corpus) if not args.only or any(o in n for o in args.only.split(","))]
    if args.calibrate:
        with args.calibrate.open("w") as out:  # JSON lines, one rung each, written as they come
            for name, data in images:
                for width in widths:
                    for fmt in formats:
                        for row in calibrate(name, data, width, fmt):
                            out.write(json.dumps(row) + "\n")
                        out.flush()
        return 0
    cases = []
    sample_width, _, every = args.sample_at.partition(":")
    for index, (name, data) in enumerate(images):
        for width in widths:
            if str(width) == sample_width and index % int(every or 1):
                continue
            for fmt in formats:
                case = measure(name, data, width, fmt, args.level, not args.no_peers, args.repeat)
                cases.append(case)
                print(
                    f"{name} {width} {fmt}: q={case.auto_quality} {case.auto_bytes / case.default_bytes:.2f}x bytes,"
                    f" s2 {case.default_s2:.1f} → {case.auto_s2:.1f}",
                    file=sys.stderr,
                )
    if args.json:
        args.json.write_text(json.dumps([asdict(c) for c in cases], indent=1))
    print(markdown(cases, args.level.value))
    return 0


if __name__ == "__main__":
    sys.exit(main())
