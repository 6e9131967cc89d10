"""``vipsfront bench stages``: where the engine's CPU goes, stage by stage, through its public API.

For each op (``--ops``) and file, in this process with ``--threads`` libvips threads (1: the stack's
1769 MB function), the CPU time (``time.process_time``) of each stage, the best of ``--reps`` rounds
per file (the stages take turns within a round, so a change in the machine's load hits them all),
averaged over the files:

* ``probe``: ``probe.open_header`` (loader sniff, header, limits); ``plan``: ``plan.make_plan``;
* pixel stages, each realised in memory: ``decode`` (``loaders.open_image`` with the plan's
  shrink-on-load options), ``resize`` (``steps.resize`` to the plan's load size), ``steps``
  (``steps.STEPS``: colour, rotation, crop, padding, ...), ``encode`` (``encode.save`` at the op's quality);
* whole: ``pipeline`` (``steps.load``, the steps and the save, streamed as libvips runs them) and
  ``transform`` (``vipsfront.engine.run.transform``); ``transform - pipeline`` is what the engine adds
  around it, ``pipeline - stages`` what streaming costs or saves against the realised stages.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyvips

from vipsfront.engine import encode, loaders, probe, steps
from vipsfront.engine.limits import Limits
from vipsfront.engine.plan import make_plan
from vipsfront.engine.run import transform
from vipsfront.url.grammar import build
from vipsfront_bench import corpus as corpora
from vipsfront_bench import report, scenarios
from vipsfront_bench.scenarios import Op

FIXED = ("probe", "plan")
PIXELS = ("decode", "resize", "steps", "encode")
WHOLE = ("pipeline", "transform")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    scenarios.add_arguments(parser)
    parser.add_argument("--reps", type=int, help="rounds per file, the best kept (9; --quick 2)")
    parser.add_argument("--threads", type=int, default=1, help="libvips threads (1)")


def stages(data: bytes, op: Op, limits: Limits) -> dict[str, Callable[[], Any]]:
    """Each stage of ``op`` on ``data`` as a function, its inputs prepared (and realised) beforehand."""
    spec = build(op.params())
    header = probe.open_header(data, limits)
    plan = make_plan(header.info, spec, limits)
    options = loaders.load_options(shrink=plan.jpeg_shrink, scale=plan.load_scale, all_frames=plan.animated)
    decoded = loaders.open_image(data, header.loader, **options).copy_memory()
    resized = steps.resize(decoded, *plan.load_size).copy_memory()

    def after_steps(image: Any) -> Any:
        for step in steps.STEPS:
            image = step(image, plan)
        return image

    finished = after_steps(resized).copy_memory()
    return {
        "probe": lambda: probe.open_header(data, limits),
        "plan": lambda: make_plan(header.info, spec, limits),
        "decode": lambda: loaders.open_image(data, header.loader, **options).copy_memory(),
        "resize": lambda: steps.resize(decoded, *plan.load_size).copy_memory(),
        "steps": lambda: after_steps(resized).copy_memory(),
        "encode": lambda: encode.save(finished, plan.format, limits, op.quality),
        "pipeline": lambda: encode.save(
            after_steps(steps.load(data, plan, probe.open_header(data, limits))), plan.format, limits, op.quality
        ),
        "transform": lambda: transform(data, spec, limits),
    }


def best_cpu_ms(files: list[Path], op: Op, limits: Limits, reps: int) -> dict[str, float]:
    """Each stage's best CPU ms per file over ``reps`` rounds, averaged over the files."""
    prepared = [stages(path.read_bytes(), op, limits) for path in files]
    best = [dict.fromkeys(prepared[0], float("inf")) for _ in files]
    for _ in range(reps):
        for i, functions in enumerate(prepared):
            for name, function in functions.items():
                started = time.process_time()
                function()
                best[i][name] = min(best[i][name], (time.process_time() - started) * 1000)
    return {name: statistics.fmean(b[name] for b in best) for name in best[0]}


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    ops = scenarios.select(args.ops, args.quick)
    reps = args.reps or (2 if args.quick else 9)
    corpus = corpora.find(args.corpus, args.out).limited(corpora.QUICK if args.quick else corpora.FULL)
    pyvips.cache_set_max(0)
    limits = Limits(threads=args.threads)
    pyvips.concurrency_set(args.threads)
    figures = {}
    for op in report.progress(ops, "stages"):
        figures[op.id] = best_cpu_ms(corpus.files[op.role], op, limits, reps)
    results: dict[str, Any] = {
        "command": " ".join(["vipsfront bench stages", *args.argv]),
        "machine": report.machine(),
        "corpus": {"name": corpus.name, "files": {k: [corpus.key(p) for p in v] for k, v in corpus.files.items()}},
        "libvips_threads": args.threads,
        "reps": reps,
        "ops": [{"id": op.id, "label": op.label, "query": op.query()} for op in ops],
        "cpu_ms": figures,
    }
    results["seconds"] = time.perf_counter() - started
    report.write(args.out, "stages", results, markdown(results, ops))
    return 0


def markdown(results: dict[str, Any], ops: tuple[Op, ...]) -> list[str]:
    f = report.number
    lines = report.heading(results, "Where the engine's CPU goes")
    lines += [
        "",
        f"CPU ms per image, {results['libvips_threads']} libvips thread(s), the best of {results['reps']} rounds "
        "per file averaged over the files; pixel stages each realised in memory.",
        "",
    ]
    rows = []
    for op in ops:
        cpu = results["cpu_ms"][op.id]
        realised = sum(cpu[name] for name in PIXELS)
        rows.append(
            [
                op.label,
                *(f(cpu[name], 2) for name in (*FIXED, *PIXELS)),
                f(cpu["pipeline"], 2),
                f(cpu["transform"], 2),
                f"{cpu['transform'] - cpu['pipeline']:+.2f}",
                f"{cpu['pipeline'] - realised:+.2f}",
            ]
        )
    lines += report.table(
        ["op", *FIXED, *PIXELS, *WHOLE, "transform - pipeline", "pipeline - stages"],
        rows,
    )
    return lines
