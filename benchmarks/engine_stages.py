"""Where the engine's CPU goes on photos, stage by stage, against Pillow (``draft()`` + LANCZOS).

Operations (``--ops``, default all): photo 2560x1600 → 400w JPEG q80 and WebP q80, and the reference
operation of the cost goal, → 800w WebP q80. For each, in one process with one libvips thread, the CPU
time (``time.process_time``) of every stage, best of ``--reps`` per photo (the stages take turns, so a
change in the machine's load hits them all), averaged over the photos. The engine's process and Pillow's
take turns ``--stage-rounds`` times (2), each stage keeping its best per photo over all of them, so a load
that comes and goes shows in both columns rather than in one:

* fixed costs: the header probe (loader sniff, header and EXIF at the JPEG shrink the plan will likely
  choose, limits), the loader opened again (only when the plan's shrink differs from the probe's, e.g. an
  EXIF rotation changed it; otherwise the engine decodes from the probe's image),
  the resize operation's build (the engine's ``_resize``: ``reduce`` for a plain photo, no pixels yet), the plan and
  the Python steps (``make_plan``, ``STEPS``);
* pixel stages, each realised in memory: the decode at the engine's JPEG scale (``shrink`` from the
  engine's plan: 1/4 for 400w, 1/2 for 800w), the lanczos3 resize, the encode (JPEG: optimised Huffman
  tables; WebP: the engine's effort; ``--webp-efforts`` adds other efforts, with their bytes);
* whole: the same three stages streamed as one libvips pipeline (``bare``), and ``engine.transform``;
  ``pipeline`` is bare minus the three realised stages (what streaming costs or saves), ``transform -
  bare`` what the engine adds around the pipeline;
* Pillow's whole transform, under ``--python`` (a venv holding Pillow-SIMD, for example).

Then, unless ``--no-throughput``, the throughput of Pillow and of ``transform`` one at a time (one thread)
and with 2 in flight: two threads in one process (the engine under ``VIPS_CONCURRENCY`` 1, 2 and libvips'
default) and two processes of one thread each. Beside each rate, per image: the process's CPU time
(steadier than the rate on a shared machine), the part of it spent in the kernel, minor page faults and
voluntary context switches (``getrusage``). CPU per image one at a time is read here the same way as with
2 in flight (the mean over the run), not against the stage table's best-of figures. ``--rounds N`` runs
every configuration once per round, in turn, and prints the median and the range. Every measuring process
gets ``MALLOC_ARENA_MAX=2`` (as serve and the Lambda set it) unless ``--env`` says otherwise; ``--env``
adds variables, e.g. glibc's ``MALLOC_TRIM_THRESHOLD_``.

    python3 benchmarks/engine_stages.py [--corpus ../shared/corpus] [--ops 400:jpeg,400:webp,800:webp]
        [--reps 9] [--stage-rounds 2] [--seconds 4] [--rounds 1] [--env NAME=VALUE] [--webp-efforts 2,3]
        [--no-throughput] [--python PYTHON] [--json out.json]

Each configuration runs in a fresh process, so thread pools and caches start cold in each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

CHILD = r"""
import io, json, os, resource, sys, threading, time
args = json.loads(sys.argv[1])
files = [open(p, "rb").read() for p in args["files"]]
fmt, mode, width, reps = args["format"], args["mode"], args["width"], args["reps"]
cpu = time.process_time

def stages_cpu(stages):
    # best CPU ms per file over reps rounds (the stages take turns within a round), averaged over files
    best = {name: [float("inf")] * len(files) for name in stages}
    for _ in range(reps):
        for i in range(len(files)):
            for name, fn in stages.items():
                t = cpu(); fn(i); best[name][i] = min(best[name][i], (cpu() - t) * 1000)
    return {"per_photo": best, **{name: sum(v) / len(v) for name, v in best.items()}}

def throughput(run, threads):
    # images/s, and per image: CPU ms (user, system), minor page faults, voluntary context switches
    count, lock, end = [0], threading.Lock(), time.perf_counter() + args["seconds"]
    def loop(k):
        i = k
        while time.perf_counter() < end:
            run(files[i % len(files)]); i += threads
            with lock: count[0] += 1
    t, r = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF)
    workers = [threading.Thread(target=loop, args=(k,)) for k in range(threads)]
    [w.start() for w in workers]; [w.join() for w in workers]
    wall, e, n = time.perf_counter() - t, resource.getrusage(resource.RUSAGE_SELF), max(1, count[0])
    return {
        "per_s": count[0] / wall, "cpu_ms": ((e.ru_utime - r.ru_utime) + (e.ru_stime - r.ru_stime)) * 1000 / n,
        "sys_ms": (e.ru_stime - r.ru_stime) * 1000 / n, "faults": (e.ru_minflt - r.ru_minflt) / n,
        "switches": (e.ru_nvcsw - r.ru_nvcsw) / n,
    }

if mode == "vips":
    import dataclasses
    import pyvips
    from vipsfront.engine import run as engine
    from vipsfront.url.grammar import build
    pyvips.cache_set_max(0)
    spec = build({"w": str(width), "fm": fmt, "q": "80"})
    limits = engine.Limits(threads=1) if args["threads"] == 1 else engine.Limits()
    run = lambda d: engine.transform(d, spec, limits).data
    run(files[0])
    out = {}
    if args.get("stages"):
        probed = [engine._probe_header(d, limits, spec) for d in files]  # info, operation, header, its shrink
        infos = [(info, operation) for info, operation, _, _ in probed]
        plans = [engine.make_plan(info, spec, limits) for info, _ in infos]
        def opened(i):
            return engine._open(infos[i][1], files[i], **engine._load_options(plans[i].jpeg_shrink))
        def resize_op(image, i):
            return engine._resize(image, *plans[i].load_size)
        def encoder(effort):
            save = engine.lossy_encoder(engine.Format(fmt), dataclasses.replace(limits, webp_effort=effort))
            return lambda image: save(image, 80)
        encode = encoder(limits.webp_effort)
        lazy = [opened(i) for i in range(len(files))]
        decoded = [opened(i).copy_memory() for i in range(len(files))]
        resized = [resize_op(decoded[i], i).copy_memory() for i in range(len(files))]
        built = [resize_op(lazy[i], i) for i in range(len(files))]
        def steps(i):
            plan = engine.make_plan(infos[i][0], spec, limits)
            image = built[i]
            for step in engine.STEPS:
                image = step(image, plan)
        stages = {
            "probe": lambda i: engine._probe_header(files[i], limits, spec),
            "header again": lambda i: opened(i) if plans[i].jpeg_shrink != probed[i][3] else None,
            "resize build": lambda i: resize_op(lazy[i], i),
            "plan + steps": steps,
            "decode": lambda i: opened(i).copy_memory(),
            "resize": lambda i: resize_op(decoded[i], i).copy_memory(),
            "encode": lambda i: encode(resized[i]),
            "bare": lambda i: encode(resize_op(opened(i), i)),
            "transform": lambda i: run(files[i]),
        }
        if fmt == "webp":
            for effort in args.get("webp_efforts", []):
                stages[f"encode e{effort}"] = (lambda e: lambda i: encoder(e)(resized[i]))(effort)
        out = stages_cpu(stages)
        out["shrink"] = sorted({p.jpeg_shrink for p in plans})
        out["kb"] = {"encode": sum(len(encode(r)) for r in resized) / len(files) / 1024}
        if fmt == "webp":
            for effort in args.get("webp_efforts", []):
                out["kb"][f"encode e{effort}"] = sum(len(encoder(effort)(r)) for r in resized) / len(files) / 1024
    out["threads"] = pyvips.concurrency_get()
    if args["seconds"] > 0:
        out.update(throughput(run, args["threads"]))
else:
    from PIL import Image
    def decode(data):
        im = Image.open(io.BytesIO(data)); im.draft("RGB", (width, width * im.height // im.width))
        return im.convert("RGB")
    def resize(im):
        return im.resize((width, round(width * im.size[1] / im.size[0])), Image.Resampling.LANCZOS)
    def encode(im):
        b = io.BytesIO()
        if fmt == "jpeg": im.save(b, "JPEG", quality=80, optimize=True)
        else: im.save(b, "WEBP", quality=80, method=4)
        return b.getvalue()
    run = lambda data: encode(resize(decode(data)))
    run(files[0])
    out = {}
    if args.get("stages"):
        decoded = [decode(d) for d in files]
        resized = [resize(d) for d in decoded]
        out = stages_cpu({
            "decode": lambda i: decode(files[i]),
            "resize": lambda i: resize(decoded[i]),
            "encode": lambda i: encode(resized[i]),
            "transform": lambda i: run(files[i]),
        })
    if args["seconds"] > 0:
        out.update(throughput(run, args["threads"]))
print(json.dumps(out))
"""

FIXED = ("probe", "header again", "resize build", "plan + steps")
PIXELS = ("decode", "resize", "encode")


def child(python: str, args: dict, env: dict[str, str] | None = None) -> dict:
    environ = {**os.environ, **(env or {})}
    done = subprocess.run([python, "-c", CHILD, json.dumps(args)], capture_output=True, text=True, env=environ)
    if done.returncode != 0:
        raise SystemExit(done.stderr[-2000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


def two_processes(python: str, args: dict, env: dict[str, str]) -> dict:
    """Two processes of one thread each, started together: the sum of their rates, the mean of the rest."""
    environ = {**os.environ, **env}
    procs = [
        subprocess.Popen([python, "-c", CHILD, json.dumps(args)], stdout=subprocess.PIPE, text=True, env=environ)
        for _ in range(2)
    ]
    rows = [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    return {key: (sum if key == "per_s" else statistics.mean)(r[key] for r in rows) for key in THROUGHPUT_KEYS}


THROUGHPUT_KEYS = ("per_s", "cpu_ms", "sys_ms", "faults", "switches")


def throughput_rows(a: argparse.Namespace, base: dict, env: dict[str, str]) -> dict[str, dict]:
    """Pillow and the engine one at a time and 2 in flight, every configuration once per round (the rounds
    alternate them, so a change in the machine's load hits them all); the median of the rounds."""
    vips = {**base, "mode": "vips", "seconds": a.seconds}
    pil = {**base, "mode": "pil", "seconds": a.seconds}
    one = {**env, "VIPS_CONCURRENCY": "1"}
    configs: list[tuple[str, Callable[[], dict]]] = [
        ("Pillow, 1 thread", lambda: child(a.python, {**pil, "threads": 1}, env)),
        ("Pillow, 2 threads", lambda: child(a.python, {**pil, "threads": 2}, env)),
        ("engine, 1 thread, VIPS_CONCURRENCY=1", lambda: child(sys.executable, {**vips, "threads": 1}, one)),
    ]
    for conc in ("1", "2", None):
        label = f"VIPS_CONCURRENCY={conc}" if conc else f"libvips default ({os.cpu_count()})"
        conc_env = {**env, "VIPS_CONCURRENCY": conc} if conc else env
        configs.append(
            (
                f"engine, 2 threads, {label}",
                (lambda e: lambda: child(sys.executable, {**vips, "threads": 2}, e))(conc_env),
            )
        )
    configs.append(
        (
            "engine, 2 processes x 1 thread, VIPS_CONCURRENCY=1",
            lambda: two_processes(sys.executable, {**vips, "threads": 1}, one),
        )
    )
    runs: dict[str, list[dict]] = {label: [] for label, _ in configs}
    for _ in range(a.rounds):
        for label, run in configs:
            runs[label].append(run())
    print(
        f"throughput, one at a time and 2 in flight, median of {a.rounds} round(s): img/s (range); per image: CPU ms "
        "of the process's threads (range), of it in the kernel, minor page faults, voluntary context switches"
    )
    rows = {}
    for label, got in runs.items():
        row = {key: statistics.median(r[key] for r in got) for key in THROUGHPUT_KEYS}
        rate, cpu = [r["per_s"] for r in got], [r["cpu_ms"] for r in got]
        print(
            f"  {label:<52} {row['per_s']:6.1f} ({min(rate):.1f}-{max(rate):.1f})  {row['cpu_ms']:5.1f} "
            f"({min(cpu):.1f}-{max(cpu):.1f})  sys {row['sys_ms']:4.1f}  faults {row['faults']:5.0f}  "
            f"switches {row['switches']:5.1f}"
        )
        rows[label] = {**row, "rounds": got}
    return rows


def best_of_rounds(rounds: list[dict]) -> dict:
    """Several stage processes' results as one: each stage's best per photo over all of them, averaged."""
    merged = dict(rounds[0])
    for name in rounds[0]["per_photo"]:
        per_photo = [min(r["per_photo"][name][i] for r in rounds) for i in range(len(rounds[0]["per_photo"][name]))]
        merged[name] = sum(per_photo) / len(per_photo)
    return merged


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def render_stages(width: int, fmt: str, stages: dict, pil: dict, python: str) -> list[str]:
    pixels = sum(stages[name] for name in PIXELS)
    added = stages["transform"] - stages["bare"]
    lines = [
        f"## photo → {width}w {fmt.upper()} q80: CPU ms per image, one libvips thread, best per photo of every rep "
        f"(JPEG decoded at 1/{'/'.join(map(str, stages['shrink']))})",
        "fixed costs:",
        *(f"  {name:<14} {stages[name]:7.2f}" for name in FIXED),
        "pixel stages, each realised in memory (Pillow: draft() decode, LANCZOS, save):",
        *(f"  {name:<14} {stages[name]:7.2f}  Pillow {pil[name]:7.2f}" for name in PIXELS),
        f"  {'sum':<14} {pixels:7.2f}  Pillow {sum(pil[name] for name in PIXELS):7.2f}",
        *(
            f"  {name:<14} {stages[name]:7.2f}  ({kb:.1f} KB; the engine's effort: {stages['kb']['encode']:.1f} KB)"
            for name, kb in stages["kb"].items()
            if name != "encode"
        ),
        "whole:",
        f"  {'bare':<14} {stages['bare']:7.2f}  (pipeline: {stages['bare'] - pixels:+.2f} against the sum)",
        f"  {'transform':<14} {stages['transform']:7.2f}  (transform - bare: {added:+.2f})",
        f"  {'Pillow whole':<14} {pil['transform']:7.2f}  ({python})",
    ]
    return lines


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--corpus", type=Path, default=Path("../shared/corpus"))
    p.add_argument("--ops", default="400:jpeg,400:webp,800:webp", help="width:format pairs")
    p.add_argument("--reps", type=int, default=9, help="rounds of the stage timings (best per photo)")
    p.add_argument(
        "--stage-rounds", type=int, default=2, help="stage processes per engine, the engine's and Pillow's in turn"
    )
    p.add_argument("--seconds", type=float, default=4.0, help="per throughput run")
    p.add_argument("--webp-efforts", default="", help="other WebP efforts to time the encode at, e.g. 2,3")
    p.add_argument("--no-throughput", action="store_true")
    p.add_argument("--rounds", type=int, default=1, help="rounds of the throughput configurations (median)")
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a variable for every measuring process (repeatable); MALLOC_ARENA_MAX=2 unless given, as serve sets it",
    )
    p.add_argument("--python", default=sys.executable, help="interpreter for the Pillow rows")
    p.add_argument("--json", type=Path)
    a = p.parse_args()
    files = sorted(str(f) for f in (a.corpus / "photos").glob("*.jpg"))
    if not files:
        raise SystemExit(f"engine_stages: no photos in {a.corpus / 'photos'}")
    efforts = [int(e) for e in a.webp_efforts.split(",") if e.strip()]
    print(f"{len(files)} photos from {a.corpus}, {os.cpu_count()} cores, load average {load_average()}\n")
    env = {"MALLOC_ARENA_MAX": "2", **dict(item.split("=", 1) for item in a.env)}
    print(f"environment of the measuring processes: {' '.join(f'{k}={v}' for k, v in env.items())}\n")
    results = []
    for op in a.ops.split(","):
        width_text, fmt = op.split(":")
        width = int(width_text)
        base = {"files": files, "format": fmt, "width": width, "reps": a.reps, "webp_efforts": efforts}
        stage_args = {**base, "stages": True, "threads": 1, "seconds": 0}
        engine_rounds, pil_rounds = [], []
        for _ in range(a.stage_rounds):  # the engine's and Pillow's processes take turns
            engine_rounds.append(
                child(sys.executable, {**stage_args, "mode": "vips"}, {**env, "VIPS_CONCURRENCY": "1"})
            )
            pil_rounds.append(child(a.python, {**stage_args, "mode": "pil"}, env))
        stages, pil = best_of_rounds(engine_rounds), best_of_rounds(pil_rounds)
        print("\n".join(render_stages(width, fmt, stages, pil, a.python)))
        row = {"width": width, "format": fmt, "stages": stages, "pillow": pil, "load_average": load_average()}
        if not a.no_throughput:
            row["throughput"] = throughput_rows(a, base, env)
        print(f"(load average {load_average()})\n")
        results.append(row)
    if a.json:
        a.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
