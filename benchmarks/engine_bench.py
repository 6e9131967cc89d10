"""Micro-benchmark of the image engine: corpus photos → 400 px wide JPEG q80 and WebP q80.

Reports images/s with 2 in flight, for the engine, for a bare ``pyvips.Image.thumbnail_buffer(data, 400)``
plus save (metadata stripped), and for Pillow ``draft()`` + LANCZOS + save (skipped when Pillow is not
installed), as ratios measured in the same run. Two deployment models:

* threads: one process, 2 threads, libvips' default thread pool (a Lambda with 2 vCPUs);
* processes: 2 worker processes, libvips limited to 1 thread each (a local server, a worker per core).

Usage: ``python benchmarks/engine_bench.py [--corpus DIR] [--seconds N] [--mode threads|processes|both]``.
Never used to assert anything: it prints a Markdown table.
"""

from __future__ import annotations

import argparse
import io
import multiprocessing
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
try:
    import vipsfront  # noqa: F401
except ImportError:  # running from a checkout without an install
    sys.path.insert(0, str(ROOT / "shared"))

import pyvips  # noqa: E402

from vipsfront.engine.run import Limits, transform  # noqa: E402
from vipsfront.url.spec import Fm, Spec  # noqa: E402

WIDTH = 400
QUALITY = 80
IN_FLIGHT = 2
FORMATS = ("jpeg", "webp")

Runner = Callable[[bytes], bytes]


def engine_runner(fm: str, threads: int) -> Runner:
    spec = Spec(w=WIDTH, q=QUALITY, fm=Fm(fm))
    limits = Limits(threads=threads)
    return lambda data: transform(data, spec, limits).data


def bare_runner(fm: str, threads: int) -> Runner:
    if threads:
        pyvips.concurrency_set(threads)

    def run(data: bytes) -> bytes:
        image = pyvips.Image.thumbnail_buffer(data, WIDTH)
        if fm == "jpeg":
            return bytes(image.jpegsave_buffer(Q=QUALITY, keep="none"))
        return bytes(image.webpsave_buffer(Q=QUALITY, keep="none"))

    return run


def pillow_runner(fm: str, threads: int) -> Runner | None:
    try:
        from PIL import Image, ImageOps
    except ImportError:
        return None

    def run(data: bytes) -> bytes:
        image = Image.open(io.BytesIO(data))
        height = round(image.height * WIDTH / image.width)
        image.draft("RGB", (WIDTH, height))
        image = ImageOps.exif_transpose(image).convert("RGB")
        image = image.resize((WIDTH, height), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        if fm == "jpeg":
            image.save(out, "JPEG", quality=QUALITY, optimize=True)
        else:
            image.save(out, "WEBP", quality=QUALITY, method=4)
        return out.getvalue()

    return run


RUNNERS: dict[str, Callable[[str, int], Runner | None]] = {
    "engine": engine_runner,
    "bare pyvips": bare_runner,
    "pillow draft": pillow_runner,
}


def _loop(run: Runner, images: list[bytes], seconds: float, offset: int) -> tuple[int, int, float]:
    """Transform images round-robin until ``seconds`` pass; (count, output bytes, elapsed s)."""
    count = size = 0
    started = time.perf_counter()
    end = started + seconds
    while time.perf_counter() < end:
        size += len(run(images[(offset + count) % len(images)]))
        count += 1
    return count, size, time.perf_counter() - started


_WORKER_RUNNERS: dict[tuple[str, str], Runner] = {}


def _process_worker(args: tuple[str, str, list[bytes], float, int]) -> tuple[int, int, float]:
    """One slice in a worker process (libvips limited to 1 thread): warm up once, then time the loop."""
    name, fm, images, seconds, offset = args
    run = _WORKER_RUNNERS.get((name, fm))
    if run is None:
        pyvips.concurrency_set(1)
        made = RUNNERS[name](fm, 1)
        assert made is not None
        run = _WORKER_RUNNERS[(name, fm)] = made
        for data in images:
            run(data)
    return _loop(run, images, seconds, offset)


def measure(
    fm: str, images: list[bytes], seconds: float, mode: str, rounds: int, pool: Any
) -> dict[str, tuple[float, float] | None]:
    """Images/s and mean output KB per contender, ``IN_FLIGHT`` at a time.

    The contenders take turns in ``rounds`` short slices, so that a change in background load (a
    shared machine) hits them all alike and the ratios stay meaningful.
    """
    available = {name: make(fm, 0) for name, make in RUNNERS.items()}
    totals = {name: [0, 0, 0.0] for name, run in available.items() if run is not None}
    if mode == "threads":
        for run in available.values():
            for data in images if run is not None else []:  # warm up
                run(data)
    slice_ = seconds / rounds
    for round_ in range(rounds):
        for name in totals:
            if mode == "threads":
                run = available[name]
                assert run is not None
                with ThreadPoolExecutor(IN_FLIGHT) as threads:
                    offsets = [i * 3 + round_ for i in range(IN_FLIGHT)]
                    results = list(
                        threads.map(_loop, [run] * IN_FLIGHT, [images] * IN_FLIGHT, [slice_] * IN_FLIGHT, offsets)
                    )
            else:
                tasks = [(name, fm, images, slice_, i * 3 + round_) for i in range(IN_FLIGHT)]
                results = pool.map(_process_worker, tasks, chunksize=1)
            for count, size, elapsed in results:
                totals[name][0] += count
                totals[name][1] += size
                totals[name][2] += elapsed / IN_FLIGHT  # workers overlap: wall time is their mean
    figures: dict[str, tuple[float, float] | None] = {name: None for name in RUNNERS}
    for name, (count, size, elapsed) in totals.items():
        figures[name] = (count / elapsed, size / max(count, 1) / 1024)
    return figures


def _row(figures: dict[str, tuple[float, float] | None]) -> list[str]:
    """Table cells: each contender's images/s (mean KB), then the engine's ratio to the others."""
    engine = figures["engine"]
    cells = ["skipped" if v is None else f"{v[0]:.1f} ({v[1]:.1f} KB)" for v in figures.values()]
    for name in ("bare pyvips", "pillow draft"):
        other = figures[name]
        cells.append("skipped" if other is None or engine is None else f"{engine[0] / other[0]:.2f}")
    return cells


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--seconds", type=float, default=5.0, help="per contender, format and mode")
    parser.add_argument("--mode", choices=["threads", "processes", "both"], default="both")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved slices per contender")
    args = parser.parse_args(argv)

    photos = sorted((args.corpus / "photos").glob("*.jpg"))
    if not photos:
        print(f"no photos in {args.corpus / 'photos'}", file=sys.stderr)
        return 2
    images = [p.read_bytes() for p in photos]
    modes = ["threads", "processes"] if args.mode == "both" else [args.mode]
    vips = f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"
    print(
        f"{len(images)} photos from {args.corpus.name}/photos → {WIDTH} px wide, q{QUALITY}, "
        f"{IN_FLIGHT} in flight, {args.seconds:g} s each; libvips {vips}\n"
    )
    print("| mode | format | engine img/s | bare pyvips img/s | Pillow draft img/s | engine ÷ bare | engine ÷ Pillow |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for mode in modes:
        for fm in FORMATS:
            if mode == "processes":
                with multiprocessing.get_context("spawn").Pool(IN_FLIGHT) as pool:
                    figures = measure(fm, images, args.seconds, mode, args.rounds, pool)
            else:
                figures = measure(fm, images, args.seconds, mode, args.rounds, None)
            print(f"| {mode} | {fm} | " + " | ".join(_row(figures)) + " |", flush=True)
    print("\n(KB: mean output size)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
