"""``vipsfront bench origins``: origin against origin, like for like, on one S3 (moto).

* ``vipsfront``: one transform Lambda instance (``instance.py``) as the stack deploys it: no variant
  lookup (CloudFront's origin group asks the variants bucket first), the canonical path form the
  CloudFront Function sends, each miss stored before it is answered; its hit is an S3 GET of the stored
  variant under the key ``vipsfront.url.route.route`` gives;
* ``aws-sample``: the image-processing Lambda handler of aws-samples/image-optimization, unmodified, from
  ``../shared/peers/aws-image-optimization``, behind ``benchmarks/peers/aws-sample/instance.mjs`` (one
  instance, one request at a time); it always transforms and stores, and its hit is an S3 GET
  of what it stored (CloudFront's origin group);
* ``thumbor-aws``: thumbor with thumbor-aws' S3 loader and S3 result storage
  (``benchmarks/peers/thumbor/thumbor-aws.conf``), one process; its hit is its own answer from result
  storage.

Every origin reads the same originals and gets the same ops (``scenarios.CENTRED_OPS``: qualities explicit,
cover crops centred, which the peers can only do). A miss is a request for an original no origin has seen:
the originals are uploaded under ``copies`` prefixes (``lfl/{n}/{key}``) and no URL is sent twice. Every
origin is up at once and, op by op, they take turns request by request, the first of each round rotating
(:func:`turns`), so each op's figures come from the same minute of the machine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from vipsfront.config.settings import DEFAULT_ORIGINALS_BUCKET, DEFAULT_VARIANTS_BUCKET
from vipsfront.engine.limits import Limits
from vipsfront.url.keys import encode_key
from vipsfront.url.policy import Policy
from vipsfront.url.route import route
from vipsfront_bench import corpus as corpora
from vipsfront_bench import peers as peer_list
from vipsfront_bench import report, scenarios, services
from vipsfront_bench.load import Client
from vipsfront_bench.scenarios import CENTRED_OPS, Op
from vipsfront_bench.score import score
from vipsfront_bench.stats import summary

ORIGINS = ("vipsfront", "aws-sample", "thumbor-aws")
RESULTS_BUCKET = "vipsfront-bench-results"  # thumbor-aws' result storage
SAMPLE_BUCKET = "vipsfront-bench-sample"  # the AWS sample's transformed-image bucket
NOTES = {
    "vipsfront": "the transform Lambda's handler, one instance; no variant lookup, canonical path form, "
    "stores before answering; hits: S3 GET of its stored variant",
    "aws-sample": "sharp defaults besides quality (WebP effort 4, AVIF effort 4 with 4:4:4 chroma); one "
    "instance; hits: S3 GET of its stored variant",
    "thumbor-aws": "S3 loader + S3 result storage, one process; hits: its answer from result storage",
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    scenarios.add_arguments(parser)
    parser.add_argument("--origins", help=f"comma list from {','.join(ORIGINS)} (default all)")
    parser.add_argument("--no-install", action="store_true", help="skip peers that are not installed yet")
    parser.add_argument("--venvs", type=Path, default=Path("build") / "bench-venvs", help="peer virtualenvs")
    parser.add_argument("--memory-mb", type=int, default=1769, help="vipsfront's function memory (1769)")


def copy_key(n: int, key: str) -> str:
    return f"lfl/{n}/{key}"


def routed(key: str, op: Op) -> Any:
    return route(f"/{encode_key(key)}", op.query(), "*/*", Policy.create(), now=time.time())


@dataclass
class Running:
    """One origin, up: how to ask it for an op, and how its hit is served when CloudFront reads S3."""

    name: str
    process: subprocess.Popen[bytes] | None
    base: str
    path: Callable[[str, Op], str]
    stored_hit: Callable[[str, Op], bytes] | None = None
    server_timing: bool = False  # vipsfront's: each miss must show no variant lookup


def start(name: str, peer: peer_list.Peer | None, s3: services.S3Server, memory_mb: int) -> Running:
    client = s3.client()

    def stored(bucket: str, key_of: Callable[[str, Op], str]) -> Callable[[str, Op], bytes]:
        def get(key: str, op: Op) -> bytes:
            body: bytes = client.get_object(Bucket=bucket, Key=key_of(key, op))["Body"].read()
            return body

        return get

    if name == "vipsfront":
        process, base = services.start_instance(services.lambda_env(s3.endpoint, memory_mb))
        hit = stored(DEFAULT_VARIANTS_BUCKET, lambda key, op: routed(key, op).variant_key)
        return Running(name, process, base, lambda key, op: str(routed(key, op).location), hit, server_timing=True)
    if name == "aws-sample":
        env = peer_list.aws_sample_settings(s3.endpoint, DEFAULT_ORIGINALS_BUCKET, SAMPLE_BUCKET)
        process, base = services.start_aws_sample(peer_list.aws_sample_instance(), peer_list.aws_sample_handler(), env)
        return Running(
            name,
            process,
            base,
            lambda key, op: op.sample_path(key),
            stored(SAMPLE_BUCKET, lambda key, op: op.sample_path(key)[1:]),
        )
    if name == "thumbor-aws":
        assert peer is not None and peer.venv is not None
        env = {
            "VFBENCH_S3_ENDPOINT": s3.endpoint,
            "VFBENCH_ORIGINALS_BUCKET": DEFAULT_ORIGINALS_BUCKET,
            "VFBENCH_RESULTS_BUCKET": RESULTS_BUCKET,
            "VFBENCH_AVIF_SPEED": str(9 - Limits().avif_effort),
        }
        config = peer_list.peers_dir() / "thumbor" / "thumbor-aws.conf"
        process, base = services.start_thumbor(peer.venv, config, env, 1)
        return Running(name, process, base, lambda key, op: op.thumbor_path(quote(key)))
    raise ValueError(f"unknown origin {name!r}")


def turns(runnings: list[Running], turn: int) -> list[Running]:
    """The origins in turn order, each first as often as the others."""
    k = turn % len(runnings) if runnings else 0
    return runnings[k:] + runnings[:k]


@dataclass
class Figures:
    """One origin's figures on one op while the op runs."""

    misses: list[float] = field(default_factory=list)
    timings: list[dict[str, float]] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    hits: list[float] = field(default_factory=list)


def miss(running: Running, http: Client, op: Op, key: str, keep: tuple[Path, int] | None, into: Figures) -> None:
    """One cold miss; ``keep`` (folder, index) keeps its output."""
    reply = http.get(running.path(key, op))
    if reply.status != 200:
        raise RuntimeError(f"{running.name} {op.id} {key}: {reply.status} {reply.body[:200]!r}")
    timing = reply.server_timing()
    if running.server_timing and (reply.headers.get("x-vipsfront-variant") != "miss" or "s3-variant" in timing):
        raise RuntimeError(
            f"{running.name} {op.id}: {reply.headers.get('x-vipsfront-variant')}, Server-Timing {timing}"
        )
    into.misses.append(reply.ms)
    into.timings.append(timing)
    if keep is not None:
        into.sizes.append(len(reply.body))
        into.outputs.append(report.save_output(*keep, op.format, reply.body))


def hit(running: Running, http: Client, op: Op, key: str, into: Figures) -> None:
    started = time.perf_counter()
    if running.stored_hit:
        running.stored_hit(key, op)
    else:
        reply = http.get(running.path(key, op))
        if reply.status != 200:
            raise RuntimeError(f"{running.name} {op.id} hit: {reply.status}")
    into.hits.append((time.perf_counter() - started) * 1000)


def measure(
    runnings: list[Running], ops: tuple[Op, ...], corpus: corpora.Corpus, repeats: int, hits: int, outputs: Path
) -> dict[str, dict[str, Any]]:
    """Misses and hits of the running origins on every op: {origin: {op: figures}}, or {origin:
    {"skipped": why}} for one that failed (the others go on)."""
    samplers = {r.name: services.RssSampler(r.process.pid) for r in runnings if r.process}
    clients = {r.name: Client(r.base) for r in runnings}
    out: dict[str, dict[str, Any]] = {r.name: {} for r in runnings}
    failed: dict[str, str] = {}

    def attempt(running: Running, step: Callable[..., None], *args: Any) -> None:
        if running.name not in failed:
            try:
                step(running, clients[running.name], *args)
            except Exception as error:  # one origin failing does not sink the others
                failed[running.name] = f"did not run: {error}"[:300]

    try:
        for op in report.progress(ops, "origins"):
            files = corpus.files[op.role]
            urls = [(n, i, copy_key(n, corpus.key(f))) for n in range(repeats) for i, f in enumerate(files)]
            live = [r for r in runnings if r.name not in failed]
            figures = {r.name: Figures() for r in live}
            with ExitStack() as stack:
                rss = {r.name: stack.enter_context(samplers[r.name].window()) for r in live}
                for turn, (n, i, key) in enumerate(urls):
                    for r in turns(live, turn):
                        keep = (outputs / r.name / op.id, i) if n == 0 else None
                        attempt(r, miss, op, key, keep, figures[r.name])
                for turn in range(hits):
                    for r in turns(live, turn):
                        attempt(r, hit, op, urls[0][2], figures[r.name])
            for r in live:
                if r.name in failed:
                    continue
                f = figures[r.name]
                steps = sorted({step for t in f.timings for step in t})
                out[r.name][op.id] = {
                    "miss_ms": summary(f.misses),
                    "miss_server_timing_ms": {s: statistics.median(t.get(s, 0.0) for t in f.timings) for s in steps},
                    "hit_ms": summary(f.hits),
                    "bytes": f.sizes,
                    "outputs": f.outputs,
                    "rss_peak_mb": rss[r.name]["peak_mb"],
                }
    finally:
        for r in runnings:
            clients[r.name].close()
        for sampler in samplers.values():
            sampler.close()
    return {name: {"skipped": failed[name]} if name in failed else ops for name, ops in out.items()}


def scores(measured: dict[str, Any], ops: tuple[Op, ...], corpus: corpora.Corpus) -> dict[str, Any]:
    """SSIMULACRA2 and bytes of each origin's outputs, per scored op."""
    table: dict[str, Any] = {}
    for name, entry in measured.items():
        for op in ops:
            outputs = entry.get("ops", {}).get(op.id, {}).get("outputs")
            if not op.scored or not outputs:
                continue
            values = [score(Path(o).read_bytes(), corpus.files[op.role][i]) for i, o in enumerate(outputs)]
            table.setdefault(op.id, {})[name] = {
                "ssimulacra2_mean": statistics.fmean(v["ssimulacra2"] for v in values),
                "bytes_mean": statistics.fmean(v["bytes"] for v in values),
            }
    return table


def run(args: argparse.Namespace) -> int:
    from vipsfront import __version__

    started = time.perf_counter()
    ops = scenarios.select(args.ops, args.quick, CENTRED_OPS)
    corpus = corpora.find(args.corpus, args.out).limited(corpora.QUICK if args.quick else corpora.FULL)
    repeats = 1 if args.quick else 3
    names = [n.strip() for n in (args.origins or ",".join(ORIGINS)).split(",") if n.strip()]
    unknown = set(names) - set(ORIGINS)
    if unknown:
        raise SystemExit(f"vipsfront bench origins: unknown origin {', '.join(sorted(unknown))}")
    prepared = {n: peer_list.prepare(n, args.venvs, install=not args.no_install) for n in names if n != "vipsfront"}
    entries: dict[str, Any] = {n: {"skipped": p.skipped} for n, p in prepared.items() if p.skipped}
    runnings: list[Running] = []
    with services.S3Server(log=args.out / "moto.log") as s3:
        client = s3.client()
        for bucket in (DEFAULT_ORIGINALS_BUCKET, DEFAULT_VARIANTS_BUCKET, RESULTS_BUCKET, SAMPLE_BUCKET):
            client.create_bucket(Bucket=bucket)
        for n in range(repeats):
            for path in corpus.all_files():
                client.put_object(
                    Bucket=DEFAULT_ORIGINALS_BUCKET, Key=copy_key(n, corpus.key(path)), Body=path.read_bytes()
                )
        try:
            for name in names:
                if name in entries:
                    continue
                try:
                    runnings.append(start(name, prepared.get(name), s3, args.memory_mb))
                except Exception as error:  # one origin failing does not sink the run
                    entries[name] = {"skipped": f"did not start: {error}"[:300]}
            measured = measure(
                runnings, ops, corpus, repeats, 5 if args.quick else 20, args.out / "outputs" / "origins"
            )
        finally:
            for running in runnings:
                services.stop(running.process)
    for name, figures in measured.items():
        if "skipped" in figures:
            entries[name] = figures
            continue
        version = f"vipsfront {__version__}" if name == "vipsfront" else prepared[name].version
        entries[name] = {"version": version, "note": NOTES[name], "ops": figures}
    results: dict[str, Any] = {
        "command": " ".join(["vipsfront bench origins", *args.argv]),
        "machine": report.machine(),
        "corpus": {"name": corpus.name, "files": {k: [corpus.key(p) for p in v] for k, v in corpus.files.items()}},
        "ops": [{"id": op.id, "label": op.label, "query": op.query()} for op in ops],
        "origins": {name: entries[name] for name in names if name in entries},
    }
    results["scores"] = scores(results["origins"], ops, corpus)
    results["seconds"] = time.perf_counter() - started
    report.write(args.out, "origins", results, markdown(results, ops))
    return 0


def markdown(results: dict[str, Any], ops: tuple[Op, ...]) -> list[str]:
    f = report.number
    origins = results["origins"]
    lines = report.heading(results, "Origin against origin, like for like")
    lines += ["", "One instance of each, one request at a time, the same originals on the same S3 (moto).", ""]
    for name, entry in origins.items():
        lines.append(
            f"- {name}: "
            + (f"skipped ({entry['skipped']})" if "ops" not in entry else f"{entry['version']}; {entry['note']}")
        )
    names = [n for n, e in origins.items() if "ops" in e]
    if not names:
        return lines
    lines += ["", "## Cold miss p50 / hit p50 (ms), peak RSS of the origin (MB)", ""]
    rows = []
    for op in ops:
        row = [op.label]
        for name in names:
            e = origins[name]["ops"].get(op.id)
            row.append(
                "–"
                if not e
                else f"{f(e['miss_ms'].get('p50'))} / {f(e['hit_ms'].get('p50'), 2)} / {f(e['rss_peak_mb'], 0)}"
            )
        rows.append(row)
    lines += report.table(["op", *(f"{n}: miss / hit / RSS" for n in names)], rows)
    lines += ["", "## Bytes and SSIMULACRA2 of each origin's output (mean KB, mean score)", ""]
    lines += report.scores_table(((op.label, results["scores"].get(op.id, {})) for op in ops if op.scored), names)
    return lines
