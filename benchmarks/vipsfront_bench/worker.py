"""One engine running benchmark ops in its own process: bare pyvips, the vipsfront engine, Pillow.

Run as a script (``python worker.py JOB.json``), so the same file also runs under another
interpreter, such as a virtual environment holding Pillow-SIMD, with nothing but the standard library
and the engine's own package imported. The job and the answer are JSON; the answer goes to stdout.

For each op: one untimed warm-up, then ``repeats`` sequential passes over the files (latency of each
transform, output of the first pass written to ``outdir`` for the quality scores), then, when asked,
``concurrency`` threads transforming round-robin for ``seconds`` (throughput and latency under load).
Peak RSS is sampled from ``/proc/self/statm`` while the op runs. Every engine decodes with
shrink-on-load, as it does by default: bare pyvips ``thumbnail_buffer``, the engine its own plan,
Pillow ``draft()`` (JPEG DCT scaling) then LANCZOS.
"""

from __future__ import annotations

import io
import json
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

Runner = Callable[[bytes], bytes]
EXTENSIONS = {"jpeg": "jpg", "webp": "webp", "avif": "avif", "png": "png"}


def _rss_mb() -> float:
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20
    except OSError:  # not Linux: the high-water mark only
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class PeakRss:
    """Samples this process's RSS every few milliseconds on a thread; ``peak`` in MB."""

    def __init__(self, interval: float = 0.01) -> None:
        self.peak = _rss_mb()
        self._interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            self.peak = max(self.peak, _rss_mb())

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, _rss_mb())


# ---------------------------------------------------------------------------------------------------
# engines: op → function of the original's bytes


def _bare(op: dict[str, Any]) -> tuple[Runner, str]:
    import pyvips

    pyvips.cache_set_max(0)
    width, height, fmt, q = op["width"], op.get("height"), op["format"], op["quality"]
    options: dict[str, Any] = {}
    if height:
        options.update(height=height, crop=op.get("position") or "centre")
    else:
        options.update(height=10_000_000)  # width decides, like w= alone

    def save(image: Any) -> bytes:
        if fmt == "jpeg":
            return bytes(image.jpegsave_buffer(Q=q, optimize_coding=True, keep="none"))
        if fmt == "webp":
            return bytes(image.webpsave_buffer(Q=q, effort=op["webp_effort"], keep="none"))
        if fmt == "avif":
            return bytes(
                image.heifsave_buffer(Q=q, compression="av1", effort=op["avif_effort"], bitdepth=8, keep="none")
            )
        return bytes(image.pngsave_buffer(compression=6, keep="none"))

    def run(data: bytes) -> bytes:
        return save(pyvips.Image.thumbnail_buffer(data, width, **options))

    version = f"pyvips {pyvips.__version__}, libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"
    return run, version


def _engine(op: dict[str, Any]) -> tuple[Runner, str]:
    from dataclasses import replace

    import pyvips

    from vipsfront import __version__
    from vipsfront.engine.limits import Limits
    from vipsfront.engine.run import transform
    from vipsfront.url.grammar import build

    spec = build(dict(op["params"]))
    limits = replace(Limits(), webp_effort=op["webp_effort"], avif_effort=op["avif_effort"])
    version = f"vipsfront {__version__}, libvips {pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}"
    return (lambda data: transform(data, spec, limits).data), version


def _pillow(op: dict[str, Any]) -> tuple[Runner, str]:
    import PIL
    from PIL import Image, ImageOps, features

    width, height, fmt, q = op["width"], op.get("height"), op["format"], op["quality"]
    lanczos = Image.Resampling.LANCZOS
    if fmt == "avif" and not features.check("avif"):
        raise RuntimeError(f"this Pillow {PIL.__version__} build has no AVIF encoder")

    def run(data: bytes) -> bytes:
        image: Image.Image = Image.open(io.BytesIO(data))
        if height:
            scale = max(width / image.width, height / image.height)
        else:
            scale = min(1.0, width / image.width)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image.draft("RGB", size)  # JPEG: decode at 1/2, 1/4 or 1/8, at least ``size``
        image = ImageOps.exif_transpose(image)
        keep_alpha = fmt != "jpeg" and image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
        image = image.convert("RGBA" if keep_alpha else "RGB")
        if height:  # cover, centred: Pillow has no smart crop
            image = ImageOps.fit(image, (width, height), lanczos)
        else:
            image = image.resize(size, lanczos)
        out = io.BytesIO()
        if fmt == "jpeg":
            image.save(out, "JPEG", quality=q, optimize=True)
        elif fmt == "webp":
            image.save(out, "WEBP", quality=q, method=op["webp_effort"])
        elif fmt == "avif":
            # Pillow's speed runs the other way from libvips' effort (aom cpu-used = 9 - effort).
            image.save(out, "AVIF", quality=q, speed=9 - op["avif_effort"], subsampling="4:2:0")
        else:
            image.save(out, "PNG", compress_level=6)
        return out.getvalue()

    simd = "post" in PIL.__version__ or "simd" in (getattr(PIL, "__file__", "") or "").lower()
    return run, f"{'Pillow-SIMD' if simd else 'Pillow'} {PIL.__version__}"


ENGINES: dict[str, Callable[[dict[str, Any]], tuple[Runner, str]]] = {
    "bare": _bare,
    "engine": _engine,
    "pillow": _pillow,
    "pillow-simd": _pillow,
}


# ---------------------------------------------------------------------------------------------------
# measuring


def throughput(run: Runner, images: list[bytes], concurrency: int, seconds: float, limit: int) -> dict[str, Any]:
    lock = threading.Lock()
    latencies: list[float] = []
    counter = iter(range(limit))
    end = time.perf_counter() + seconds

    def loop(_: int) -> None:
        while time.perf_counter() < end:
            with lock:
                index = next(counter, None)
            if index is None:
                return
            started = time.perf_counter()
            run(images[index % len(images)])  # the shared counter spreads the files
            with lock:
                latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(loop, range(concurrency)))
    elapsed = time.perf_counter() - started
    return {
        "concurrency": concurrency,
        "images": len(latencies),
        "seconds": elapsed,
        "images_per_s": len(latencies) / elapsed if elapsed else 0.0,
        "latency_ms": latencies,
    }


def run_op(engine: str, op: dict[str, Any], job: dict[str, Any]) -> dict[str, Any]:
    make = ENGINES[engine]
    images = [open(path, "rb").read() for path in op["files"]]
    with PeakRss() as rss:
        try:
            run, version = make(op)
            run(images[0])  # warm-up: loaders, encoders, thread pools
        except Exception as error:  # e.g. a Pillow build without an AVIF encoder
            return {"op": op["id"], "skipped": f"{type(error).__name__}: {error}"[:300]}
        latencies: list[float] = []
        sizes: list[int] = []
        outputs: list[str] = []
        for rep in range(op.get("repeats", 1)):
            for index, data in enumerate(images):
                started = time.perf_counter()
                out = run(data)
                latencies.append((time.perf_counter() - started) * 1000)
                if rep == 0:
                    sizes.append(len(out))
                    if job.get("outdir"):
                        folder = os.path.join(job["outdir"], engine, op["id"])
                        os.makedirs(folder, exist_ok=True)
                        path = os.path.join(folder, f"{index}.{EXTENSIONS[op['format']]}")
                        with open(path, "wb") as file:
                            file.write(out)
                        outputs.append(path)
        loaded = None
        load = op.get("throughput")
        if load:
            loaded = throughput(run, images, load["concurrency"], load["seconds"], load["max_images"])
    return {
        "op": op["id"],
        "version": version,
        "latency_ms": latencies,
        "bytes": sizes,
        "outputs": outputs,
        "throughput": loaded,
        "rss_peak_mb": rss.peak,
    }


def main(argv: list[str]) -> int:
    with open(argv[1]) as file:
        job = json.load(file)
    results = [run_op(job["engine"], op, job) for op in job["ops"]]
    json.dump({"engine": job["engine"], "results": results}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
