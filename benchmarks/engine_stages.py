"""Where the engine's time goes on photo → 400w JPEG and WebP, against Pillow (``draft()`` + LANCZOS).

Per stage, one image at a time: the header probe, the JPEG decode at 1/4 (``shrink=4``, realised in
memory), the lanczos3 resize to 400 px, the encode, and the engine's whole ``transform``. Then the
throughput with 2 in flight of ``transform``, two threads in one process, under libvips' thread counts
(``VIPS_CONCURRENCY`` 1, 2 and the default), and in two processes of one thread each: the scheduling
questions of issue 13 (libvips worker threads per pipeline against processes). Beside each rate, the
process CPU time per image: on a machine shared with other work the rates swing with its load, the CPU
time much less.

    python3 benchmarks/engine_stages.py [--corpus ../shared/corpus] [--seconds 4] [--python PYTHON]

``--python`` runs the Pillow rows under another interpreter (a venv holding Pillow-SIMD, for example).
Each configuration runs in a fresh process, so thread pools and caches start cold in each.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

CHILD = r"""
import io, json, os, sys, threading, time
args = json.loads(sys.argv[1])
files = [open(p, "rb").read() for p in args["files"]]
fmt, mode = args["format"], args["mode"]

def timed(fn, reps=3):
    best = []
    for data in files:
        samples = []
        for _ in range(reps):
            t = time.perf_counter(); fn(data); samples.append((time.perf_counter() - t) * 1000)
        best.append(sorted(samples)[len(samples) // 2])
    return sum(best) / len(best)

def throughput(run, threads):
    count, lock, end = [0], threading.Lock(), time.perf_counter() + args["seconds"]
    def loop(k):
        i = k
        while time.perf_counter() < end:
            run(files[i % len(files)]); i += threads
            with lock: count[0] += 1
    t, cpu = time.perf_counter(), time.process_time()
    workers = [threading.Thread(target=loop, args=(k,)) for k in range(threads)]
    [w.start() for w in workers]; [w.join() for w in workers]
    return count[0] / (time.perf_counter() - t), (time.process_time() - cpu) * 1000 / max(1, count[0])

if mode == "vips":
    import pyvips
    from vipsfront.engine import Limits, transform, _probe
    from vipsfront.grammar import build
    pyvips.cache_set_max(0)
    spec = build({"w": "400", "fm": fmt, "q": "80"})
    limits = Limits()
    run = lambda d: transform(d, spec, limits).data
    run(files[0])
    if args.get("stages"):
        def load(d):
            return pyvips.Image.jpegload_buffer(d, shrink=4, access="sequential").copy_memory()
        decoded = [load(d) for d in files]
        def resize(i):
            return decoded[i].thumbnail_image(400, height=10_000_000).copy_memory()
        resized = [resize(i) for i in range(len(files))]
        def encode(i):
            if fmt == "jpeg":
                return resized[i].jpegsave_buffer(Q=80, optimize_coding=True, keep="none")
            return resized[i].webpsave_buffer(Q=80, effort=limits.webp_effort, keep="none")
        index = {id(d): i for i, d in enumerate(files)}
        out = {
            "probe": timed(lambda d: _probe(d, limits)),
            "decode 1/4": timed(load),
            "resize": timed(lambda d: resize(index[id(d)])),
            "encode": timed(lambda d: encode(index[id(d)])),
            "transform": timed(run),
        }
    else:
        out = {}
    out["threads"] = pyvips.concurrency_get()
    out["per_s"], out["cpu_ms"] = throughput(run, args["threads"])
else:
    from PIL import Image
    def run(data):
        im = Image.open(io.BytesIO(data)); im.draft("RGB", (400, 400 * im.height // im.width))
        im = im.convert("RGB").resize((400, round(400 * im.height / im.width)), Image.Resampling.LANCZOS)
        b = io.BytesIO()
        if fmt == "jpeg": im.save(b, "JPEG", quality=80, optimize=True)
        else: im.save(b, "WEBP", quality=80, method=4)
        return b.getvalue()
    run(files[0])
    out = {"transform": timed(run)} if args.get("stages") else {}
    out["per_s"], out["cpu_ms"] = throughput(run, args["threads"])
print(json.dumps(out))
"""


def child(python: str, args: dict, env: dict[str, str] | None = None) -> dict:
    environ = {**os.environ, **(env or {})}
    done = subprocess.run([python, "-c", CHILD, json.dumps(args)], capture_output=True, text=True, env=environ)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def two_processes(python: str, args: dict, env: dict[str, str]) -> float:
    """Two processes of one thread each, started together: the sum of their rates."""
    environ = {**os.environ, **env}
    procs = [
        subprocess.Popen([python, "-c", CHILD, json.dumps(args)], stdout=subprocess.PIPE, text=True, env=environ)
        for _ in range(2)
    ]
    return sum(json.loads(p.communicate()[0].strip().splitlines()[-1])["per_s"] for p in procs)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--python", default=sys.executable, help="interpreter for the Pillow rows")
    a = p.parse_args()
    files = sorted(str(f) for f in (a.corpus / "photos").glob("*.jpg"))
    if not files:
        raise SystemExit(f"engine_stages: no photos in {a.corpus / 'photos'}")
    print(f"{len(files)} photos from {a.corpus}, {os.cpu_count()} cores, {a.seconds:.0f} s per throughput run\n")
    for fmt in ("jpeg", "webp"):
        base = {"files": files, "format": fmt, "seconds": a.seconds}
        stages = child(
            sys.executable, {**base, "mode": "vips", "stages": True, "threads": 1}, {"VIPS_CONCURRENCY": "1"}
        )
        pil = child(a.python, {**base, "mode": "pil", "stages": True, "threads": 2})
        print(f"## photo → 400w {fmt.upper()} q80: one image at a time, one libvips thread (ms, median per file)")
        for name in ("probe", "decode 1/4", "resize", "encode", "transform"):
            print(f"  {name:<12} {stages[name]:7.2f}")
        print(f"  Pillow whole {pil['transform']:7.2f}  ({a.python})")
        print("throughput, 2 in flight (img/s; CPU ms per image, all threads of the process)")
        print(f"  Pillow, 2 threads                      {pil['per_s']:6.1f}  {pil['cpu_ms']:5.1f}")
        for conc in ("1", "2", None):
            env = {"VIPS_CONCURRENCY": conc} if conc else {}
            label = f"VIPS_CONCURRENCY={conc}" if conc else f"libvips default ({os.cpu_count()})"
            r = child(sys.executable, {**base, "mode": "vips", "threads": 2}, env)
            print(f"  engine, 2 threads, {label:<20} {r['per_s']:6.1f}  {r['cpu_ms']:5.1f}")
        rate = two_processes(sys.executable, {**base, "mode": "vips", "threads": 1}, {"VIPS_CONCURRENCY": "1"})
        print(f"  engine, 2 processes x 1 thread, VIPS_CONCURRENCY=1 {rate:6.1f}")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
