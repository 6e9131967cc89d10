"""``vipsfront bench lambda``: the deployed shape, one transform Lambda instance beside the AWS sample's.

In production CloudFront answers hits from the variants bucket and each Lambda instance runs one miss at a
time. This measures one instance of each, on moto's S3, one request at a time, in one run:

* the instance: the Lambda asset ``layers/build.py`` builds, for x86_64 (this machine's twin of the
  arm64 one the stack deploys), run by the Lambda's Python (``--python``; 3.12) with nothing but the asset
  and what the Lambda runtime provides (boto3, botocore, s3transfer, installed beside it) on ``sys.path``:
  ``instance.py`` as a file, ``-S -P -B``. The AWS sample's handler runs unmodified under node
  (``benchmarks/peers/aws-sample/instance.mjs``, its sharp and AWS SDK from that folder's lockfile). Both
  instances are pinned to ``--cpus`` CPUs (1: the one vCPU of the stack's 1,769 MB) and get the Function
  URL event CloudFront sends with an origin access control (``instance.py``);
* cold start: ``--cold-starts`` fresh processes of each, taking turns: import the handler and invoke it
  once with a miss; process start to first image, and inside it the import and the first invocation;
* warm misses per op (``scenarios.CENTRED_OPS``, which the sample can make), the two instances taking
  turns request by request: the handler call's wall time (what Lambda bills), split by Server-Timing into
  S3 reads, the transform, S3 writes and the rest (the handler's own overhead: event decoding, routing,
  headers, metrics, base64), the rest being the call's wall time less those steps, request by request;
* memory: each instance's peak RSS (Lambda's Max Memory Used), and the memory setting that holds it;
* cost: Lambda compute and request fee per million misses at that memory, arm64 and x86_64 prices of
  ``vipsfront.config.cost`` (dated), the CPU part of a miss stretched by 1,769 MB over the memory below it
  (Lambda's CPU share follows memory).

Goals, each reported met or not: cold start no slower than the sample's; warm misses at parity or
better on every op; the handler's own overhead at most 2 ms per miss (p50); peak RSS of one instance under
512 MB on the 14.7 MP original. Parity allows 3 %, the noise between paired runs. Nothing here asserts
a time.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyvips

from vipsfront.config.cost import PRICES_AS_OF, PRICES_REGION, Architecture, CostModel, per_million
from vipsfront.config.settings import DEFAULT_ORIGINALS_BUCKET, DEFAULT_VARIANTS_BUCKET
from vipsfront.telemetry import Outcome, RequestRecord
from vipsfront.url.keys import encode_key
from vipsfront.url.policy import Policy
from vipsfront.url.route import route
from vipsfront_bench import corpus as corpora
from vipsfront_bench import peers as peer_list
from vipsfront_bench import report, scenarios, services
from vipsfront_bench.load import Client, Reply
from vipsfront_bench.scenarios import CENTRED_OPS, QUICK_OPS, Op
from vipsfront_bench.stats import summary

INSTANCE = Path(__file__).with_name("instance.py")
LAMBDA_PYTHON = "3.12"  # the stack's runtime
TWIN_ARCH = "x86_64"
RUNTIME_PROVIDED = "boto3"  # with botocore and s3transfer, what the Lambda runtime adds to the standard library
SAMPLE_BUCKET = "vipsfront-bench-sample"  # the AWS sample's transformed-image bucket
COLD_OP = Op("cold-800-webp", "photo → 800w WebP q80", "photo", 800, "webp")
QUICK_LAMBDA_OPS = (*QUICK_OPS, "large-1200-jpeg")  # --quick keeps the largest original for the RSS goal
MB_PER_VCPU = 1769  # Lambda's CPU share: one vCPU at 1,769 MB, proportionally less below
MEMORY_HEADROOM = 1.25
MEMORY_STEP_MB = 64
PARITY = 1.03
OVERHEAD_GOAL_MS = 2.0
RSS_GOAL_MB = 512
OURS, SAMPLE = "vipsfront", "aws-sample"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    scenarios.add_arguments(parser)
    parser.add_argument("--cold-starts", type=int, help="fresh processes of each for the cold start (7; --quick 1)")
    parser.add_argument("--repeats", type=int, help="timed passes over each op's files (3; --quick 1)")
    parser.add_argument("--memory-mb", type=int, default=MB_PER_VCPU, help="the function's memory (the stack's 1769)")
    parser.add_argument("--cpus", type=int, default=1, help="CPUs each instance is pinned to (1: one vCPU)")
    parser.add_argument("--python", help=f"a Python {LAMBDA_PYTHON} interpreter (default python{LAMBDA_PYTHON})")
    parser.add_argument("--no-install", action="store_true", help="skip the AWS sample when npm ci has not run")


# --- the instance's twin: the built asset and the runtime's boto3, nothing else ----------------------------


@dataclass(frozen=True)
class Twin:
    """The x86_64 Lambda asset and the runtime's packages, run by the Lambda's Python."""

    python: str
    version: str
    asset: Path
    runtime: Path

    def instance(self) -> list[str]:
        """``instance.py`` as a file, without site-packages (``-S``) or its own folder (``-P``) on
        ``sys.path``, writing no bytecode (``-B``: ``/var/task`` is read-only)."""
        return [self.python, "-S", "-P", "-B", str(INSTANCE)]

    def env(self, env: dict[str, str]) -> dict[str, str]:
        return {**env, "PYTHONPATH": os.pathsep.join((str(self.asset), str(self.runtime)))}


def version_of(python: str) -> str | None:
    try:
        done = subprocess.run([python, "-c", "import sys; print(*sys.version_info[:2], sep='.')"], capture_output=True)
    except OSError:
        return None
    return done.stdout.decode().strip() if done.returncode == 0 else None


def lambda_python(requested: str | None) -> tuple[str, str]:
    """(interpreter, version): ``requested``, else ``python3.12`` on ``PATH``, else this one."""
    if requested:
        version = version_of(requested)
        if version is None:
            raise SystemExit(f"vipsfront bench lambda: --python {requested} does not run")
        return requested, version
    found = shutil.which(f"python{LAMBDA_PYTHON}")
    if found and version_of(found) == LAMBDA_PYTHON:
        return found, LAMBDA_PYTHON
    return sys.executable, f"{sys.version_info.major}.{sys.version_info.minor}"


def run_checked(command: list[str], what: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"vipsfront bench lambda: {what} failed: {(done.stderr or done.stdout)[-2000:]}")


def build_twin(folder: Path, python: str, version: str) -> Twin:
    """Build the asset with ``layers/build.py`` and install the runtime's boto3 beside it, both for
    ``version`` on x86_64, compiled as the asset is."""
    build = Path.cwd() / "layers" / "build.py"
    if not build.is_file():
        raise SystemExit("vipsfront bench lambda: layers/build.py not found: run from the project's root")
    twin = Twin(python, version, folder / "asset", folder / "runtime")
    report.say(f"building the {TWIN_ARCH} Lambda asset for Python {version}")
    run_checked(
        [sys.executable, str(build), "--arch", TWIN_ARCH, "--python-version", version, "--python", python]
        + ["--out", str(twin.asset)],
        "layers/build.py",
    )
    shutil.rmtree(twin.runtime, ignore_errors=True)
    platforms = [arg for tag in ("manylinux2014_x86_64", "manylinux_2_28_x86_64") for arg in ("--platform", tag)]
    run_checked(
        [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-warn-conflicts"]
        + ["--target", str(twin.runtime), "--only-binary=:all:", "--python-version", version, "--implementation"]
        + ["cp", *platforms, RUNTIME_PROVIDED],
        f"pip install {RUNTIME_PROVIDED}",
    )
    run_checked(
        [python, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(twin.runtime)],
        "compileall",
    )
    return twin


# --- cold start --------------------------------------------------------------------------------------------


def spawn(command: list[str], env: dict[str, str], cpus: set[int] | None) -> dict[str, Any]:
    """One fresh process that imports a handler and invokes it once: its ``BENCH`` figures, with the
    wall time from process start to that line (the first image) as ``spawn_to_first_image_s``."""
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=services.pinned(cpus)
    )
    assert process.stdout is not None
    figures: dict[str, Any] | None = None
    for line in process.stdout:
        if line.startswith("BENCH "):
            figures = {"spawn_to_first_image_s": time.perf_counter() - started, **json.loads(line[6:])}
            break
    _, errors = process.communicate(timeout=120)
    if figures is None or process.returncode != 0:
        raise RuntimeError(f"{command[0]} exited {process.returncode}: {errors.strip()[-2000:]}")
    if figures["status"] != 200:
        raise RuntimeError(f"{command[0]}: expected a 200 miss, got {figures}")
    return figures


def interpreter_s(command: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def cold_start(
    commands: dict[str, tuple[list[str], dict[str, str]]], runs: int, cpus: set[int] | None
) -> dict[str, Any]:
    """Median figures of ``runs`` fresh processes of each command, taking turns (who goes first alternating)."""
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in commands}
    names = list(commands)
    for turn in report.progress(range(runs), "cold start"):
        for name in names[turn % len(names) :] + names[: turn % len(names)]:
            rows[name].append(spawn(*commands[name], cpus))
    out: dict[str, Any] = {}
    for name, figures in rows.items():
        keys = [key for key, value in figures[0].items() if isinstance(value, float)]
        out[name] = {key: statistics.median(row[key] for row in figures) for key in keys}
        out[name]["runs"] = runs
        for loaded in ("loaded_at_import", "loaded_by_first_request"):
            if loaded in figures[-1]:
                out[name][loaded] = figures[-1][loaded]
    return out


# --- warm misses -------------------------------------------------------------------------------------------


def canonical(key: str, query: str) -> str:
    """The canonical path form the CloudFront Function forwards for ``query`` on ``key``."""
    return str(route(f"/{encode_key(key)}", query, "*/*", Policy.create(), now=time.time()).location)


def split(reply: Reply, writes: str, transforms: str) -> dict[str, float]:
    """The handler call's wall time and its Server-Timing steps: S3 reads (every other step named
    ``s3-*`` or ``img-download``), ``transforms``, ``writes``, and the rest."""
    handler = float(reply.headers["x-bench-handler-ms"])
    timing = reply.server_timing()
    s3_write = timing.get(writes, 0.0)
    transform = timing.get(transforms, 0.0)
    s3_read = sum(v for k, v in timing.items() if k != writes and (k.startswith("s3-") or k == "img-download"))
    rest = handler - s3_read - transform - s3_write
    return {"handler": handler, "s3_read": s3_read, "transform": transform, "s3_write": s3_write, "rest": rest}


@dataclass(frozen=True)
class Instance:
    name: str
    http: Client
    path: Callable[[str, Op], str]  # what the instance is asked for ``op`` on a key
    writes: str  # its Server-Timing names of the S3 write and the transform
    transforms: str
    variant_header: bool = False  # vipsfront's: each answer must say it was a miss

    def miss(self, key: str, op: Op) -> tuple[dict[str, float], bytes]:
        reply = self.http.get(self.path(key, op))
        if reply.status != 200 or (self.variant_header and reply.headers.get("x-vipsfront-variant") != "miss"):
            raise RuntimeError(f"{self.name} {op.id} {key}: {reply.status} {reply.body[:200]!r}")
        return split(reply, self.writes, self.transforms), reply.body


def one_op(
    instances: list[Instance], op: Op, corpus: corpora.Corpus, repeats: int, out: Path, samplers: dict[str, Any]
) -> dict[str, Any]:
    """``repeats`` passes of misses over the op's files, the instances taking turns request by request
    (who goes first alternating), after an untimed pass that warms them up and keeps their outputs."""
    keys = [corpus.key(path) for path in corpus.files[op.role]]
    rows: dict[str, list[dict[str, float]]] = {i.name: [] for i in instances}
    kept: dict[str, dict[str, list[Any]]] = {i.name: {"bytes": [], "outputs": []} for i in instances}
    with ExitStack() as stack:
        rss = {i.name: stack.enter_context(samplers[i.name].window()) for i in instances}
        for rep in range(repeats + 1):
            for index, key in enumerate(keys):
                turn = (rep + index) % len(instances)
                for instance in instances[turn:] + instances[:turn]:
                    split_ms, body = instance.miss(key, op)
                    if rep == 0:
                        kept[instance.name]["bytes"].append(len(body))
                        folder = out / instance.name / op.id
                        kept[instance.name]["outputs"].append(report.save_output(folder, index, op.format, body))
                    else:
                        rows[instance.name].append(split_ms)
    result: dict[str, Any] = {}
    for instance in instances:
        timed = rows[instance.name]
        result[instance.name] = {
            "handler_ms": summary([t["handler"] for t in timed]),
            "steps_ms_p50": {s: statistics.median(t[s] for t in timed) for s in ("s3_read", "transform", "s3_write")},
            "rest_ms": summary([t["rest"] for t in timed]),
            "rss_peak_mb": rss[instance.name]["peak_mb"],
            **kept[instance.name],
        }
    if len(instances) == 2:
        pairs = zip(rows[OURS], rows[SAMPLE], strict=True)
        result["ours_over_sample"] = statistics.median(a["handler"] / b["handler"] for a, b in pairs)
    return result


# --- memory, cost, goals -----------------------------------------------------------------------------------


def memory_setting(peak_rss_mb: float) -> int:
    """The smallest Lambda memory, in steps of 64 MB, that holds ``peak_rss_mb`` with 25 % headroom."""
    return max(128, math.ceil(peak_rss_mb * MEMORY_HEADROOM / MEMORY_STEP_MB) * MEMORY_STEP_MB)


def usd_per_million(row: dict[str, Any], memory_mb: int, arch: Architecture) -> float:
    """Lambda compute and request fee of a million misses like ``row``'s p50 at ``memory_mb``: its S3 time
    as measured, its CPU time (the rest of the call, measured on one vCPU) stretched below 1,769 MB."""
    handler = row["handler_ms"]["p50"]
    s3 = row["steps_ms_p50"]["s3_read"] + row["steps_ms_p50"]["s3_write"]
    billed = s3 + (handler - s3) * max(1.0, MB_PER_VCPU / memory_mb)
    record = RequestRecord(outcome=Outcome.MISS, status=200)
    record.timings["total"] = billed
    cost = per_million(CostModel(memory_mb=memory_mb, architecture=arch, variant_lookup=False).estimate(record))
    return cost.lambda_compute + cost.lambda_request


def megapixels(path: Path) -> float:
    image = pyvips.Image.new_from_file(str(path))
    return float(image.width * image.height) / 1e6


QUICK_VERDICT = "no verdict: a --quick smoke run"


def verdict(met: bool | None) -> str:
    return "not measured" if met is None else "met" if met else "not met"


def goals(results: dict[str, Any], ops: tuple[Op, ...], sample: bool, *, quick: bool = False) -> list[dict[str, Any]]:
    """Each goal with its figures and verdict; a ``--quick`` run (a few files, one pass) judges none, since a
    smoke run's figures say nothing about the goal."""
    cold, misses, memory = results["cold_start"], results["misses"], results["memory"]
    cold_ratio = cold[OURS]["spawn_to_first_image_s"] / cold[SAMPLE]["spawn_to_first_image_s"] if sample else None
    warm = {op.id: misses[op.id].get("ours_over_sample") for op in ops}
    rest = {op.id: misses[op.id][OURS]["rest_ms"]["p50"] for op in ops}
    why = None if sample else f"the AWS sample did not run: {results['aws_sample']['skipped']}"
    table = [
        {
            "id": "cold_start",
            "goal": "cold start no slower than the AWS sample's",
            "target": f"process start to first image, median: vipsfront ≤ {PARITY:.2f} × the sample's",
            "measured": {
                "vipsfront_s": cold[OURS]["spawn_to_first_image_s"],
                "aws_sample_s": cold[SAMPLE]["spawn_to_first_image_s"] if sample else None,
                "ratio": cold_ratio,
            },
            "met": None if cold_ratio is None else cold_ratio <= PARITY,
        },
        {
            "id": "warm_misses",
            "goal": "warm misses at parity or better on every operation",
            "target": f"per op, median of paired handler times vipsfront ÷ sample ≤ {PARITY:.2f}",
            "measured": {"ratio_by_op": warm},
            "met": None if not sample else all(ratio <= PARITY for ratio in warm.values()),
        },
        {
            "id": "overhead",
            "goal": f"the handler's own overhead at most {OVERHEAD_GOAL_MS:g} ms per miss (p50)",
            "target": f"per op, p50 of (handler call − S3 reads − transform − S3 writes) ≤ {OVERHEAD_GOAL_MS:g} ms",
            "measured": {"rest_ms_p50_by_op": rest, "max_ms": max(rest.values())},
            "met": max(rest.values()) <= OVERHEAD_GOAL_MS,
        },
        {
            "id": "peak_rss",
            "goal": f"peak RSS of one instance under {RSS_GOAL_MB} MB on the 14.7 MP original",
            "target": f"the instance's peak RSS over the run < {RSS_GOAL_MB} MB",
            "measured": {"peak_rss_mb": memory[OURS]["peak_rss_mb"], "largest_original_mp": memory["largest_mp"]},
            "met": memory[OURS]["peak_rss_mb"] < RSS_GOAL_MB,
        },
    ]
    for goal in table:
        goal["verdict"] = QUICK_VERDICT if quick else verdict(goal["met"])
        if quick:
            goal["met"] = None
        elif goal["met"] is None:
            goal["why"] = why
    return table


# --- the run -----------------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    ops = scenarios.select(args.ops or (",".join(QUICK_LAMBDA_OPS) if args.quick else None), False, CENTRED_OPS)
    repeats = args.repeats or (1 if args.quick else 3)
    runs = args.cold_starts or (1 if args.quick else 7)
    available = sorted(os.sched_getaffinity(0))
    cpus = set(available[-args.cpus :]) if 0 < args.cpus < len(available) else None
    corpus = corpora.find(args.corpus, args.out).limited(corpora.QUICK if args.quick else corpora.FULL)
    report.say(f"corpus {corpus.name}: " + ", ".join(f"{len(v)} {k}" for k, v in corpus.files.items()))
    python, version = lambda_python(args.python)
    twin = build_twin(args.out / f"lambda-{TWIN_ARCH}", python, version)
    peer = peer_list.prepare(SAMPLE, args.out, install=not args.no_install)
    sample = peer.skipped is None
    results: dict[str, Any] = {
        "command": " ".join(["vipsfront bench lambda", *args.argv]),
        "machine": report.machine(),
        "corpus": {"name": corpus.name, "files": {k: [corpus.key(p) for p in v] for k, v in corpus.files.items()}},
        "twin": {"arch": TWIN_ARCH, "python": version, "runtime_provided": ["boto3", "botocore", "s3transfer"]},
        "aws_sample": {"version": peer.version} if sample else {"skipped": peer.skipped},
        "memory_mb": args.memory_mb,
        "cpus": len(cpus) if cpus else len(available),
        "ops": [{"id": op.id, "label": op.label, "query": op.query()} for op in ops],
    }
    sample_handler = peer_list.aws_sample_handler()
    with services.S3Server(log=args.out / "moto.log") as s3_server:
        s3 = s3_server.client()
        for bucket in (DEFAULT_ORIGINALS_BUCKET, DEFAULT_VARIANTS_BUCKET, SAMPLE_BUCKET):
            s3.create_bucket(Bucket=bucket)
        for path in corpus.all_files():
            s3.put_object(Bucket=DEFAULT_ORIGINALS_BUCKET, Key=corpus.key(path), Body=path.read_bytes())
        env = twin.env(services.lambda_env(s3_server.endpoint, args.memory_mb))
        sample_env = services.clean_env(
            **peer_list.aws_sample_settings(s3_server.endpoint, DEFAULT_ORIGINALS_BUCKET, SAMPLE_BUCKET)
        )
        photo = corpus.key(corpus.files["photo"][0])
        commands = {
            OURS: (
                [*twin.instance(), "once", str(twin.asset / "handler.py"), canonical(photo, COLD_OP.query()), ""],
                env,
            )
        }
        interpreters = {OURS: interpreter_s([python, "-S", "-c", "pass"], 5)}
        if sample:
            instance = str(peer_list.aws_sample_instance())
            commands[SAMPLE] = (["node", instance, "once", str(sample_handler), COLD_OP.sample_path(photo)], sample_env)
            interpreters[SAMPLE] = interpreter_s(["node", "-e", "0"], 5)
        results["cold_start"] = cold_start(commands, runs, cpus)
        for name, seconds in interpreters.items():
            results["cold_start"][name]["interpreter_start_s"] = seconds
        processes = []
        clients: list[Client] = []
        samplers: dict[str, services.RssSampler] = {}
        try:
            process, base = services.start_instance(env, twin.instance(), twin.asset / "handler.py", cpus)
            processes.append(process)
            samplers[OURS] = services.RssSampler(process.pid)
            clients.append(Client(base))
            instances = [
                Instance(OURS, clients[-1], lambda key, op: canonical(key, op.query()), "s3-write", "transform", True)
            ]
            if sample:
                process, base = services.start_aws_sample(
                    peer_list.aws_sample_instance(),
                    sample_handler,
                    peer_list.aws_sample_settings(s3_server.endpoint, DEFAULT_ORIGINALS_BUCKET, SAMPLE_BUCKET),
                    cpus,
                )
                processes.append(process)
                samplers[SAMPLE] = services.RssSampler(process.pid)
                clients.append(Client(base))
                instances.append(
                    Instance(SAMPLE, clients[-1], lambda key, op: op.sample_path(key), "img-upload", "img-transform")
                )
            results["misses"] = {}
            for op in report.progress(ops, "misses"):
                results["misses"][op.id] = one_op(
                    instances, op, corpus, repeats, args.out / "outputs" / "lambda", samplers
                )
            results["instances"] = {i.name: json.loads(i.http.get("/_bench/instance").body) for i in instances}
        finally:
            for client in clients:
                client.close()
            for sampler in samplers.values():
                sampler.close()
            for process in processes:
                services.stop(process)
    largest = max(megapixels(p) for op in ops for p in corpus.files[op.role])
    peak = results["instances"][OURS]["peak_rss_mb"]
    setting = memory_setting(peak)
    results["memory"] = {
        OURS: {"peak_rss_mb": peak, "memory_setting_mb": setting},
        "largest_mp": largest,
        "headroom": MEMORY_HEADROOM,
    }
    if sample:
        results["memory"][SAMPLE] = {"peak_rss_mb": results["instances"][SAMPLE]["peak_rss_mb"]}
    results["cost"] = {
        "prices": f"{PRICES_REGION} list prices as of {PRICES_AS_OF}",
        "memory_mb": setting,
        "usd_per_million": {
            op.id: {
                str(memory): {
                    arch.value: usd_per_million(results["misses"][op.id][OURS], memory, arch) for arch in Architecture
                }
                for memory in sorted({setting, MB_PER_VCPU})
            }
            for op in ops
        },
    }
    results["goals"] = goals(results, ops, sample, quick=args.quick)
    results["seconds"] = time.perf_counter() - started
    report.write(args.out, "lambda", results, markdown(results, ops))
    return 0


def markdown(results: dict[str, Any], ops: tuple[Op, ...]) -> list[str]:
    f = report.number
    sample = "skipped" not in results["aws_sample"]
    names = [OURS, SAMPLE] if sample else [OURS]
    lines = report.heading(results, "The deployed shape: one transform Lambda instance beside the AWS sample's")
    twin = results["twin"]
    lines += [
        "",
        f"vipsfront: the {twin['arch']} Lambda asset under Python {twin['python']} with only the runtime's "
        f"boto3, botocore and s3transfer beside it; {results['memory_mb']} MB "
        f"({results['instances'][OURS]['libvips_threads']} libvips threads), as deployed (no variant lookup, "
        "the canonical path form). AWS sample: "
        + (
            f"{results['aws_sample']['version']}; sharp's {results['instances'][SAMPLE]['libvips_threads']} "
            "libvips threads."
            if sample
            else f"skipped ({results['aws_sample']['skipped']})."
        )
        + f" Each instance pinned to {results['cpus']} CPU(s); S3 is moto on this machine; one request at a time.",
        "",
        "## Goals",
        "",
    ]
    rows = []
    for goal in results["goals"]:
        measured = goal["measured"]
        if goal["id"] == "cold_start":
            shown = f"{f(measured['vipsfront_s'], 3)} s vs {f(measured['aws_sample_s'], 3)} s"
        elif goal["id"] == "warm_misses":
            shown = "worst " + f(max((r for r in measured["ratio_by_op"].values() if r), default=None), 2) + " ×"
        elif goal["id"] == "overhead":
            shown = f"worst op {f(measured['max_ms'], 2)} ms"
        else:
            shown = f"{f(measured['peak_rss_mb'], 0)} MB (largest original {f(measured['largest_original_mp'])} MP)"
        rows.append([goal["goal"], goal["target"], shown, goal["verdict"]])
    lines += report.table(["goal", "target", "measured", "verdict"], rows)
    cold = results["cold_start"]
    lines += [
        "",
        f"## Cold start (median of {cold[OURS]['runs']} fresh processes each, taking turns; a miss: {COLD_OP.label})",
        "",
    ]
    steps = [
        ("interpreter start (nothing imported)", "interpreter_start_s"),
        ("import the handler", "import_s"),
        ("first invocation (a miss)", "first_request_s"),
        ("process start to first image", "spawn_to_first_image_s"),
    ]
    lines += report.table(
        ["step (s)", *names], [[label, *(f(cold[n].get(key), 3) for n in names)] for label, key in steps]
    )
    lines += [
        "",
        "Watched modules vipsfront's import loaded: "
        + (", ".join(cold[OURS].get("loaded_at_import", [])) or "none")
        + "; its first invocation: "
        + (", ".join(cold[OURS].get("loaded_by_first_request", [])) or "none")
        + ".",
        "",
        "## Warm misses, one at a time (ms, p50)",
        "",
        "The handler call's wall time split by its Server-Timing: S3 reads, the transform, S3 writes, and the "
        "rest (the call less those steps, request by request). ÷ sample: the median of paired handler times. "
        "The sample's steps are whole milliseconds (its Server-Timing rounds down); its download includes "
        "sharp reading the header.",
        "",
    ]
    rows = []
    for op in ops:
        row = results["misses"][op.id]
        cells = [op.label]
        for name in names:
            r = row[name]
            st = r["steps_ms_p50"]
            cells += [
                f(r["handler_ms"]["p50"]),
                f"{f(st['s3_read'])} / {f(st['transform'])} / {f(st['s3_write'])} / {f(r['rest_ms']['p50'], 2)}",
            ]
        if sample:
            cells.append(f(row.get("ours_over_sample"), 2))
        rows.append(cells)
    header = ["op"]
    for name in names:
        header += [f"{name} handler", f"{name} read / transform / write / rest"]
    lines += report.table(header + (["÷ sample"] if sample else []), rows)
    memory = results["memory"]
    lines += [
        "",
        "## Memory",
        "",
        f"vipsfront's instance peaked at {f(memory[OURS]['peak_rss_mb'], 0)} MB RSS over the run (Lambda's Max "
        f"Memory Used; the largest original {f(memory['largest_mp'])} MP)"
        + (f", the sample's at {f(memory[SAMPLE]['peak_rss_mb'], 0)} MB" if sample else "")
        + f". With {int((memory['headroom'] - 1) * 100)} % headroom that is a {memory[OURS]['memory_setting_mb']} MB "
        "setting. Peak RSS per op:",
        "",
    ]
    lines += report.table(
        ["op", *(f"{n} MB" for n in names)],
        [[op.label, *(f(results["misses"][op.id][n]["rss_peak_mb"], 0) for n in names)] for op in ops],
    )
    cost = results["cost"]
    memories = sorted({int(m) for per in cost["usd_per_million"].values() for m in per})
    lines += [
        "",
        f"## Cost per million misses (Lambda compute and request fee, USD, {cost['prices']})",
        "",
        f"At {cost['memory_mb']} MB (the setting above) and at the stack's {MB_PER_VCPU} MB, from each op's p50; "
        f"below {MB_PER_VCPU} MB the CPU part is stretched by {MB_PER_VCPU} MB over the memory (Lambda's CPU share "
        "follows memory). Measured on x86_64: arm64 prices apply to arm64's own times, which this machine cannot "
        "measure.",
        "",
    ]
    header = ["op"] + [f"{arch.value} @ {m} MB" for m in memories for arch in Architecture]
    rows = [
        [op.label]
        + [f(cost["usd_per_million"][op.id][str(m)][arch.value], 2) for m in memories for arch in Architecture]
        for op in ops
    ]
    lines += report.table(header, rows)
    return lines
