"""Origin against origin, like for like: vipsfront twice (with its variant lookup, and as deployed), thumbor
as deployed on AWS and the AWS sample.

Every origin reads the same originals from the same S3 (moto), stores what it makes in S3, and gets the
same requests: the ops of ``scenarios.OPS`` with their qualities explicit, each cover crop centred
(:data:`OPS`: the peers can only crop at the centre, so vipsfront does too here; the engine-level rows keep
``pos=attention``). Each answers from its own server processes, as many as the origin's workers.

* ``vipsfront``: ``vipsfront serve --workers N`` with the variant lookup on: look up the stored variant,
  else read the original, transform, store, answer (the same job as thumbor's result storage); query form;
* ``vipsfront-deployed``: ``vipsfront serve --workers N`` configured as the transform function behind
  CloudFront (:data:`services.AS_DEPLOYED`): no variant lookup (CloudFront's origin group asks the variants
  bucket first), the canonical path form the CloudFront Function sends, each miss stored before it is
  answered; its hit is a bare S3 GET of the variant it stored, under the key ``vipsfront.url.route.route`` gives
  (the AWS sample's job, hits included);
* ``thumbor-aws``: thumbor 7.8 with thumbor-aws' S3 loader and S3 result storage
  (``benchmarks/peers/thumbor/thumbor-aws.conf``), ``--processes N``;
* ``aws-sample``: the image-processing Lambda handler of aws-samples/image-optimization, run unmodified
  under node from ``../shared/peers/aws-image-optimization`` behind ``benchmarks/peers/aws-sample/server.mjs``
  (N cluster workers, one request at a time each, as Lambda runs it). It always transforms and writes;
  its hits are served by CloudFront from the transformed bucket, so its hit is a bare S3 GET of the
  object it stored.

A miss is a request for an original no origin has seen: the originals are uploaded under ``copies``
prefixes (``lfl/{n}/{key}``) and no URL is sent twice, so the misses (one client, sequential) and the
throughput run (``concurrency`` clients) are all cold. Hits repeat the first miss's URL. Every origin is up
at once and, op by op, they take turns request by request (see :func:`measure`).
"""

from __future__ import annotations

import statistics
import subprocess
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any
from urllib.parse import quote

from vipsfront_bench import corpus as corpus_mod
from vipsfront_bench import peers as peers_mod
from vipsfront_bench import services
from vipsfront_bench.load import Client, concurrent
from vipsfront_bench.scenarios import OPS as ENGINE_OPS
from vipsfront_bench.scenarios import Op

RESULTS_BUCKET = "vipsfront-bench-results"  # thumbor-aws' result storage
SAMPLE_BUCKET = "vipsfront-bench-sample"  # the AWS sample's transformed-image bucket
DEPLOYED_BUCKET = "vipsfront-bench-deployed"  # vipsfront-deployed's variants, apart from the lookup-on row's
DEPLOYED = "vipsfront-deployed"
OURS = ("vipsfront", DEPLOYED)
AGAINST = {"thumbor-aws": "vipsfront", "aws-sample": DEPLOYED}  # each peer's like-for-like vipsfront row
NOTES = {
    "vipsfront": "variant lookup on: looks up its stored variant, else reads the original, transforms, "
    "answers and stores (thumbor-aws' job); query form; hits: the origin answering from S3",
    DEPLOYED: "as deployed behind CloudFront: no variant lookup (the origin group asks the variants bucket "
    "first), canonical path form as the CloudFront Function sends it, reads the original, transforms, stores, "
    "answers (the AWS sample's job); hits: S3 GET of its stored variant",
    "thumbor-aws": "S3 loader + S3 result storage; cover crops centred (smart needs detectors)",
    "aws-sample": "sharp defaults besides quality (WebP effort 4, AVIF effort 4 with 4:4:4 chroma); "
    "cover crops centred (no position parameter); hits: S3 GET of its stored variant (CloudFront origin group)",
}


def centred(op: Op) -> Op:
    """``op`` as every origin here can make it: a cover crop at the centre (thumbor-aws' smart crop needs
    detectors, the AWS sample has no position parameter)."""
    if op.position in (None, "center"):
        return op
    return replace(
        op,
        id=op.id.replace(op.position, "center"),
        label=op.label.replace(f"pos={op.position}", "pos=center"),
        position="center",
    )


OPS: tuple[Op, ...] = tuple(centred(op) for op in ENGINE_OPS)


def copy_key(n: int, key: str) -> str:
    return f"lfl/{n}/{key}"


def upload_copies(client: Any, bucket: str, corpus: corpus_mod.Corpus, copies: int) -> None:
    from vipsfront.cli.embedded_s3 import upload

    for n in range(copies):
        upload(client, bucket, {copy_key(n, corpus.key(p)): p.read_bytes() for p in corpus.all_files()})


def sample_path(key: str, op: Op) -> str:
    """The AWS sample's path form (its ``url-rewrite.js``): ``/{key}/format=..,quality=..,width=..``."""
    parts = [f"format={op.format}"]
    if op.quality:
        parts.append(f"quality={op.quality}")
    parts.append(f"width={op.width}")
    if op.height:
        parts.append(f"height={op.height}")
    return f"/{key}/{','.join(parts)}"


@dataclass
class Running:
    name: str
    process: subprocess.Popen[bytes]
    base: str
    path: Callable[[str, Op], str]
    stored_hit: Callable[[str, Op], bytes] | None = None  # a hit served outside the origin (S3 GET)
    lookup: bool | None = None  # vipsfront's: whether a miss looks up its variant first (Server-Timing s3-variant)


def start(name: str, peer: peers_mod.Peer | None, s3: services.S3Server, workers: int) -> Running:
    from vipsfront.config.settings import DEFAULT_ORIGINALS_BUCKET
    from vipsfront.engine.run import Limits
    from vipsfront.url.keys import encode_key

    if name == "vipsfront":
        process, base, _ = services.start_origin(s3.endpoint, workers)
        return Running(name, process, base, lambda key, op: f"/{encode_key(key)}?{op.query()}", lookup=True)
    if name == DEPLOYED:
        from vipsfront_bench.runner import _canonical_path, _route

        settings = {**services.AS_DEPLOYED, "VIPSFRONT_VARIANTS_BUCKET": DEPLOYED_BUCKET}
        process, base, _ = services.start_origin(s3.endpoint, workers, settings)
        hit = _stored(s3, DEPLOYED_BUCKET, lambda key, op: _route(key, op).variant_key)
        return Running(name, process, base, _canonical_path, hit, lookup=False)
    if name == "thumbor-aws":
        assert peer is not None and peer.venv is not None
        config = peers_mod.peers_dir() / "thumbor" / "thumbor-aws.conf"
        env = {
            "VIPSFRONT_BENCH_S3_ENDPOINT": s3.endpoint,
            "VIPSFRONT_BENCH_ORIGINALS_BUCKET": DEFAULT_ORIGINALS_BUCKET,
            "VIPSFRONT_BENCH_RESULTS_BUCKET": RESULTS_BUCKET,
            "VIPSFRONT_BENCH_AVIF_SPEED": str(9 - Limits().avif_effort),
        }
        process, base = services.start_thumbor(peer.venv, config, env, workers)
        return Running(name, process, base, lambda key, op: op.thumbor_path(quote(key)))
    if name == "aws-sample":
        env = {
            "AWS_ENDPOINT_URL_S3": s3.endpoint,
            "AWS_REGION": "us-east-1",
            "originalImageBucketName": DEFAULT_ORIGINALS_BUCKET,
            "transformedImageBucketName": SAMPLE_BUCKET,
            "transformedImageCacheTTL": "max-age=31622400",
            "maxImageSize": "4700000",
        }
        process, base = services.start_aws_sample(peers_mod.aws_sample_handler(), env, workers)
        hit = _stored(s3, SAMPLE_BUCKET, lambda key, op: sample_path(key, op)[1:])
        return Running(name, process, base, sample_path, hit)
    raise ValueError(f"unknown origin {name!r}")


def _stored(s3: services.S3Server, bucket: str, stored_key: Callable[[str, Op], str]) -> Callable[[str, Op], bytes]:
    """A hit as CloudFront's origin group serves it: a boto3 GET of the object the origin stored."""
    client = s3.client()

    def get(key: str, op: Op) -> bytes:
        body: bytes = client.get_object(Bucket=bucket, Key=stored_key(key, op))["Body"].read()
        return body

    return get


def _save(folder: Path, index: int, op: Op, data: bytes) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{index}.{'jpg' if op.format == 'jpeg' else op.format}"
    path.write_bytes(data)
    return str(path)


class _Op:
    """One origin's figures on one op while the op runs."""

    def __init__(self) -> None:
        self.misses: list[float] = []
        self.timings: list[dict[str, float]] = []
        self.sizes: list[int] = []
        self.outputs: list[str] = []
        self.hits: list[float] = []


def _miss(running: Running, http: Client, op: Op, n: int, i: int, key: str, into: _Op, outdir: Path) -> None:
    reply = http.get(running.path(key, op))
    if reply.status != 200:
        raise RuntimeError(f"{running.name} {op.id} {key}: {reply.status} {reply.body[:200]!r}")
    timing = reply.server_timing()
    if running.lookup is not None and (
        reply.headers.get("x-vipsfront-variant") != "miss" or ("s3-variant" in timing) != running.lookup
    ):
        raise RuntimeError(
            f"{running.name} {op.id}: {reply.headers.get('x-vipsfront-variant')}, Server-Timing {timing} "
            f"(a miss with the variant lookup {'on' if running.lookup else 'off'} expected)"
        )
    into.misses.append(reply.ms)
    into.timings.append(timing)
    if n == 0:
        into.sizes.append(len(reply.body))
        into.outputs.append(_save(outdir / running.name / op.id, i, op, reply.body))


def _hit(running: Running, http: Client, op: Op, key: str, into: _Op) -> None:
    started = time.perf_counter()
    if running.stored_hit:
        running.stored_hit(key, op)
    else:
        reply = http.get(running.path(key, op))
        if reply.status != 200:
            raise RuntimeError(f"{running.name} {op.id} hit: {reply.status}")
    into.hits.append((time.perf_counter() - started) * 1000)


def _throughput(
    running: Running, http: Client, op: Op, urls: list[tuple[int, int, str]], concurrency: int, plan: Any
) -> Any:
    """Cold misses with ``concurrency`` in flight (None when the corpus leaves no URL for them)."""
    rest = [running.path(key, op) for _, _, key in urls]
    if not rest:
        return None
    return concurrent(running.base, lambda i: rest[i], concurrency, plan.peer_seconds, min(plan.peer_max, len(rest)))


def _turns(runnings: list[Running], turn: int) -> list[Running]:
    """The origins in turn order, each first as often as the others."""
    k = turn % len(runnings) if runnings else 0
    return runnings[k:] + runnings[:k]


def measure(
    runnings: list[Running], corpus: corpus_mod.Corpus, plan: Any, copies: int, concurrency: int, outdir: Path
) -> dict[str, dict[str, Any]]:
    """Misses, hits and throughput of the running origins on every op: {origin: {op: figures}}, or
    {origin: {"skipped": why}} for one that failed.

    Op by op, the origins take turns request by request on the misses and the hits (the first of each
    round changing from round to round), then run their throughput one after the other, so each op's
    figures of every origin come from the same minute of a machine whose load moves."""
    from vipsfront_bench.runner import progress
    from vipsfront_bench.stats import summary

    samplers = {r.name: services.RssSampler(r.process.pid) for r in runnings}
    clients = {r.name: Client(r.base) for r in runnings}
    out: dict[str, dict[str, Any]] = {r.name: {} for r in runnings}
    failed: dict[str, str] = {}

    def attempt(running: Running, step: Callable[..., Any], *args: Any) -> Any:
        if running.name in failed:
            return None
        try:
            return step(running, clients[running.name], *args)
        except Exception as error:  # one origin failing does not sink the others
            failed[running.name] = f"did not run: {error}"[:300]
            return None

    try:
        for op in progress(OPS, desc="origins"):
            files = corpus.files[op.role]
            urls = [(n, i, copy_key(n, corpus.key(f))) for n in range(copies) for i, f in enumerate(files)]
            cold = urls[: len(files) * plan.repeats]
            first = cold[0][2]
            live = [r for r in runnings if r.name not in failed]
            figures = {r.name: _Op() for r in live}
            with ExitStack() as stack:
                rss = {r.name: stack.enter_context(samplers[r.name].window()) for r in live}
                for turn, (n, i, key) in enumerate(cold):
                    for r in _turns(live, turn):
                        attempt(r, _miss, op, n, i, key, figures[r.name], outdir)
                for turn in range(plan.hit_requests):
                    for r in _turns(live, turn):
                        attempt(r, _hit, op, first, figures[r.name])
                loads = {r.name: attempt(r, _throughput, op, urls[len(cold) :], concurrency, plan) for r in live}
            for r in live:
                if r.name in failed:
                    continue
                f, load = figures[r.name], loads.get(r.name)
                out[r.name][op.id] = {
                    "miss_ms": summary(f.misses),
                    # vipsfront's own breakdown of its misses (Server-Timing medians); the peers send none
                    "miss_server_timing_ms": {
                        step: statistics.median(t.get(step, 0.0) for t in f.timings)
                        for step in sorted({step for t in f.timings for step in t})
                    },
                    "hit_ms": summary(f.hits),
                    "bytes": f.sizes,
                    "outputs": f.outputs,
                    "throughput": None
                    if load is None
                    else {
                        "concurrency": concurrency,
                        "images_per_s": load.images_per_s,
                        "images": len(load.latency_ms),
                        "errors": load.errors,
                        "latency_ms": summary(load.latency_ms),
                    },
                    "rss_peak_mb": rss[r.name]["peak_mb"],
                }
    finally:
        for r in runnings:
            clients[r.name].close()
            samplers[r.name].close()
    return {name: {"skipped": failed[name]} if name in failed else ops for name, ops in out.items()}


def run(
    names: list[str],
    prepared: dict[str, peers_mod.Peer],
    s3: services.S3Server,
    corpus: corpus_mod.Corpus,
    plan: Any,
    workers: int,
    concurrency: int,
    outdir: Path,
) -> dict[str, Any]:
    """The like-for-like rows: {origin: {"version", "note", "ops" | "skipped"}}, every origin up at once."""
    from vipsfront import __version__
    from vipsfront.config.settings import DEFAULT_ORIGINALS_BUCKET
    from vipsfront.cli.embedded_s3 import ensure_bucket

    client = s3.client()
    for bucket in (RESULTS_BUCKET, SAMPLE_BUCKET, DEPLOYED_BUCKET):
        ensure_bucket(client, bucket)
    upload_copies(client, DEFAULT_ORIGINALS_BUCKET, corpus, plan.copies)
    order = [*OURS, *names]
    out: dict[str, Any] = {}
    runnings: list[Running] = []
    try:
        for name in order:
            peer = prepared.get(name)
            if peer is not None and peer.skipped:
                out[name] = {"skipped": peer.skipped}
                continue
            try:
                runnings.append(start(name, peer, s3, workers))
            except Exception as error:  # one origin failing does not sink the run
                out[name] = {"skipped": f"did not run: {error}"[:300]}
        measured = measure(runnings, corpus, plan, plan.copies, concurrency, outdir / "origins")
    finally:
        for running in runnings:
            services.stop(running.process)
    for name, ops in measured.items():
        if "skipped" in ops:
            out[name] = ops
            continue
        peer = prepared.get(name)
        version = f"vipsfront {__version__}" if name in OURS else (peer.version if peer else None)
        out[name] = {"version": version, "note": NOTES[name], "ops": ops}
    return {name: out[name] for name in order if name in out}
