"""``vipsfront bench lambda``: the deployed shape, one transform Lambda instance on moto's S3.

In production CloudFront answers hits from the variants bucket and each Lambda instance runs one miss at a
time; this measures that shape with ``functions/transform/handler.py`` itself (``instance.py``):

* cold start: ``--cold-starts`` fresh processes each import the handler and invoke it once with a miss
  (a photo to 800w WebP, in the canonical path form): import and first request, wall and CPU time,
  process start to first image, and the heavy modules the import loaded;
* misses: one instance gets, op by op and file by file, the canonical path form the CloudFront Function
  forwards (no variant lookup: every request reads the original, transforms and stores); each miss
  alternates with the engine alone (``vipsfront.engine.run.transform`` of the same bytes in this process,
  with the instance's libvips threads), so each pair shares the machine's load: p50s, the median of the
  paired ratios, and the medians of the miss's Server-Timing steps (s3-read, transform, s3-write, total);
* hits: a boto3 GET of the stored variant, which is what CloudFront's origin group does;
* memory: the instance's peak RSS during each op, and over the run (Lambda's "Max Memory Used");
* cost: USD per million misses at ``--memory-mb`` on ``--arch``, from the Server-Timing total (hits
  invoke no function: an S3 GET and the egress).

Nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from vipsfront.config.cost import Architecture, CostModel, per_million
from vipsfront.config.settings import DEFAULT_ORIGINALS_BUCKET, DEFAULT_VARIANTS_BUCKET
from vipsfront.engine.limits import Limits
from vipsfront.engine.run import transform
from vipsfront.telemetry import Outcome, RequestRecord
from vipsfront.url.grammar import build
from vipsfront.url.keys import encode_key
from vipsfront.url.policy import Policy
from vipsfront.url.route import route
from vipsfront_bench import corpus as corpora
from vipsfront_bench import report, scenarios, services
from vipsfront_bench.load import Client
from vipsfront_bench.scenarios import Op
from vipsfront_bench.stats import summary

COLD_START_QUERY = "w=800&fm=webp"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    scenarios.add_arguments(parser)
    parser.add_argument("--cold-starts", type=int, help="fresh processes for the cold start (5; --quick 1)")
    parser.add_argument("--repeats", type=int, help="passes over each op's files (3; --quick 1)")
    parser.add_argument("--memory-mb", type=int, default=1769, help="the function's memory (the stack's 1769)")
    parser.add_argument("--arch", default="arm64", help="cost model: arm64 or x86_64 (arm64)")


def canonical(key: str, query: str) -> tuple[str, str]:
    """(the canonical path form the CloudFront Function forwards, the variants bucket's key) of ``query``
    on ``key``."""
    routed = route(f"/{encode_key(key)}", query, "*/*", Policy.create(), now=time.time())
    return str(routed.location), routed.variant_key


def cold_start(env: dict[str, str], path: str, runs: int) -> dict[str, Any]:
    """Median figures of ``runs`` fresh processes, each importing the handler and sending one miss."""
    command = [sys.executable, "-m", "vipsfront_bench.instance", "once", str(services.handler_path()), path, ""]
    interpreter: list[float] = []
    spawn: list[float] = []
    rows: list[dict[str, Any]] = []
    for _ in report.progress(range(runs), "cold start"):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], env=env, check=True)
        interpreter.append(time.perf_counter() - started)
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        spawn.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise RuntimeError(f"the handler failed: {done.stderr.strip()[-2000:]}")
        row = json.loads(done.stdout.strip().splitlines()[-1])
        if row["status"] != 200 or row["variant"] != "miss":
            raise RuntimeError(f"expected a 200 miss, got {row}")
        rows.append(row)

    def median(name: str) -> float:
        return statistics.median(row[name] for row in rows)

    return {
        "runs": runs,
        "request": f"{path} (a miss)",
        "interpreter_start_s": statistics.median(interpreter),
        "import_s": median("import_s"),
        "import_cpu_s": median("import_cpu_s"),
        "first_request_s": median("first_request_s"),
        "first_request_cpu_s": median("first_request_cpu_s"),
        "spawn_to_first_image_s": statistics.median(spawn),
        "peak_rss_mb": median("peak_rss_mb"),
        "loaded_at_import": rows[-1]["loaded_at_import"],
    }


def engine_ms(data: bytes, spec: Any, limits: Limits) -> float:
    """Milliseconds of the engine alone on ``data``."""
    started = time.perf_counter()
    transform(data, spec, limits)
    return (time.perf_counter() - started) * 1000


def one_op(http: Client, op: Op, corpus: corpora.Corpus, limits: Limits, repeats: int, out: Path) -> dict[str, Any]:
    """``repeats`` passes of misses over the op's files, each paired with the engine alone (which of the
    two goes first alternating), after an untimed pass that warms both up and keeps the outputs."""
    spec = build(op.params())
    files = [(canonical(corpus.key(path), op.query())[0], path.read_bytes()) for path in corpus.files[op.role]]
    figures: dict[str, list[Any]] = {"miss": [], "engine": [], "paired": [], "timings": [], "bytes": [], "outputs": []}
    for rep in range(repeats + 1):
        for index, (path, data) in enumerate(files):
            engine_first = (rep + index) % 2 == 0
            engine = engine_ms(data, spec, limits) if engine_first else 0.0
            reply = http.get(path)
            if not engine_first:
                engine = engine_ms(data, spec, limits)
            if reply.status != 200 or reply.headers.get("x-vipsfront-variant") != "miss":
                raise RuntimeError(f"{op.id} {path}: {reply.status} {reply.body[:200]!r}")
            if rep == 0:
                figures["bytes"].append(len(reply.body))
                figures["outputs"].append(report.save_output(out / op.id, index, op.format, reply.body))
                continue
            figures["miss"].append(reply.ms)
            figures["engine"].append(engine)
            figures["paired"].append(reply.ms / engine)
            figures["timings"].append(reply.server_timing())
    timings = figures["timings"]
    steps = sorted({step for timing in timings for step in timing})
    return {
        "miss_ms": summary(figures["miss"]),
        "engine_ms": summary(figures["engine"]),
        "miss_over_engine_paired": statistics.median(figures["paired"]),
        "server_timing_ms": {step: statistics.median(t.get(step, 0.0) for t in timings) for step in steps},
        "bytes": figures["bytes"],
        "outputs": figures["outputs"],
    }


def hits(s3: Any, key: str, op: Op, n: int) -> dict[str, float]:
    """A boto3 GET of the variant the instance stored, ``n`` times: a hit as CloudFront's origin group
    makes it."""
    stored = canonical(key, op.query())[1]
    times = []
    for _ in range(n):
        started = time.perf_counter()
        s3.get_object(Bucket=DEFAULT_VARIANTS_BUCKET, Key=stored)["Body"].read()
        times.append((time.perf_counter() - started) * 1000)
    return summary(times)


def cost(miss: dict[str, Any], memory_mb: int, arch: str) -> dict[str, float]:
    """USD per million misses like this op's: its Server-Timing total and mean output bytes."""
    model = CostModel(memory_mb=memory_mb, architecture=Architecture.parse(arch), variant_lookup=False)
    record = RequestRecord(outcome=Outcome.MISS, status=200, output_bytes=int(statistics.fmean(miss["bytes"])))
    record.timings["total"] = miss["server_timing_ms"].get("total", miss["miss_ms"]["p50"])
    return per_million(model.estimate(record)).as_dict()


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    ops = scenarios.select(args.ops, args.quick)
    repeats = args.repeats or (1 if args.quick else 3)
    runs = args.cold_starts or (1 if args.quick else 5)
    corpus = corpora.find(args.corpus, args.out).limited(corpora.QUICK if args.quick else corpora.FULL)
    report.say(f"corpus {corpus.name}: " + ", ".join(f"{len(v)} {k}" for k, v in corpus.files.items()))
    results: dict[str, Any] = {
        "command": " ".join(["vipsfront bench lambda", *args.argv]),
        "machine": report.machine(),
        "corpus": {"name": corpus.name, "files": {k: [corpus.key(p) for p in v] for k, v in corpus.files.items()}},
        "memory_mb": args.memory_mb,
        "arch": args.arch,
        "ops": [{"id": op.id, "label": op.label, "query": op.query()} for op in ops],
    }
    with services.S3Server(log=args.out / "moto.log") as s3_server:
        s3 = s3_server.client()
        for bucket in (DEFAULT_ORIGINALS_BUCKET, DEFAULT_VARIANTS_BUCKET):
            s3.create_bucket(Bucket=bucket)
        for path in corpus.all_files():
            s3.put_object(Bucket=DEFAULT_ORIGINALS_BUCKET, Key=corpus.key(path), Body=path.read_bytes())
        env = services.lambda_env(s3_server.endpoint, args.memory_mb)
        photo = corpus.key(corpus.files["photo"][0])
        results["cold_start"] = cold_start(env, canonical(photo, COLD_START_QUERY)[0], runs)
        process, base = services.start_instance(env)
        sampler = services.RssSampler(process.pid)
        http = Client(base)
        try:
            http.get(canonical(photo, COLD_START_QUERY)[0])  # the first request builds the app
            threads = json.loads(http.get("/_bench/instance").body)["libvips_threads"] or 0
            limits = Limits(threads=threads)
            results["libvips_threads"] = threads
            results["misses"] = {}
            for op in report.progress(ops, "misses"):
                with sampler.window() as rss:
                    row = one_op(http, op, corpus, limits, repeats, args.out / "outputs" / "lambda")
                row["rss_peak_mb"] = rss["peak_mb"]
                row["hit_s3_get_ms"] = hits(s3, corpus.key(corpus.files[op.role][0]), op, 10 * repeats)
                row["usd_per_million"] = cost(row, args.memory_mb, args.arch)
                results["misses"][op.id] = row
            results["instance"] = json.loads(http.get("/_bench/instance").body)
        finally:
            http.close()
            sampler.close()
            services.stop(process)
    results["seconds"] = time.perf_counter() - started
    report.write(args.out, "lambda", results, markdown(results, ops))
    return 0


def markdown(results: dict[str, Any], ops: tuple[Op, ...]) -> list[str]:
    f = report.number
    cold = results["cold_start"]
    lines = report.heading(results, "The deployed shape: one transform Lambda instance")
    lines += [
        "",
        f"Function memory {results['memory_mb']} MB ({results['libvips_threads']} libvips threads), {results['arch']}; "
        f"the variant lookup off and the canonical path form trusted, as the stack deploys it; S3 is moto on "
        f"this machine.",
        "",
        f"## Cold start (median of {cold['runs']} fresh processes; first request {cold['request']})",
        "",
    ]
    lines += report.table(
        ["step", "wall s", "CPU s"],
        [
            ["interpreter start (python -c pass)", f(cold["interpreter_start_s"], 3), ""],
            ["import functions/transform/handler.py", f(cold["import_s"], 3), f(cold["import_cpu_s"], 3)],
            ["first request (a miss)", f(cold["first_request_s"], 3), f(cold["first_request_cpu_s"], 3)],
            ["process start to first image", f(cold["spawn_to_first_image_s"], 3), ""],
        ],
    )
    lines += [
        "",
        "Loaded by the import: " + (", ".join(cold["loaded_at_import"]) or "none of the watched modules") + ".",
        "",
        "## Misses, one at a time, against the engine alone (ms)",
        "",
        "Each miss is paired with `transform()` of the same original in the bench's process (same libvips "
        "threads), the two alternating; ÷ engine is the median of the paired ratios. Steps are the medians "
        "of the instance's Server-Timing.",
        "",
    ]
    steps = sorted({step for op in ops for step in results["misses"][op.id]["server_timing_ms"]})
    rows = []
    for op in ops:
        row = results["misses"][op.id]
        rows.append(
            [
                op.label,
                f"{f(row['miss_ms']['p50'])} / {f(row['miss_ms']['p95'])}",
                f(row["engine_ms"]["p50"]),
                f(row["miss_over_engine_paired"], 2),
                *(f(row["server_timing_ms"].get(step)) for step in steps),
                f(row["hit_s3_get_ms"]["p50"], 2),
                f(row["rss_peak_mb"], 0),
                f(row["usd_per_million"]["lambda_compute"], 2),
                f(row["usd_per_million"]["total"], 2),
            ]
        )
    lines += report.table(
        [
            "op",
            "miss p50 / p95",
            "engine p50",
            "÷ engine",
            *steps,
            "hit (S3 GET) p50",
            "peak RSS MB",
            "compute $/M",
            "total $/M",
        ],
        rows,
    )
    instance = results["instance"]
    lines += [
        "",
        f"Instance: peak RSS over the run {f(instance['peak_rss_mb'], 0)} MB (Lambda's Max Memory Used), handler "
        f"import {f(instance['import_s'], 3)} s. Cost per million misses at the Server-Timing total: Lambda "
        "compute, and the total with the request fee, S3 requests and CloudFront egress of the bytes made; a hit "
        "invokes no function. Local CPU only approximates Lambda's, whose vCPU share scales with memory.",
    ]
    return lines
