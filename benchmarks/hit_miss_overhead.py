"""The origin's own overhead on a cache hit and on a cache miss (issue 13 §4), measured side by side.

Starts moto's S3 server in a process of its own and ``vipsfront serve --workers N`` against it, as
``vipsfront bench`` does, uploads a few corpus photos (or the generated samples), then for each op:

* hits: the same URL again over one keep-alive connection, alternating with a bare botocore GET of the
  same stored variant from the same moto (``get_object(...)["Body"].read()`` in this process);
* misses: the variant deleted (outside the timing), then the URL, alternating with the engine alone
  (``engine.transform`` of the same original's bytes in this process, libvips' default threads unless
  ``VIPS_CONCURRENCY`` is set); each miss waits, untimed, until its variant is stored.

It prints p50s, the ratios of the p50s and the median of the paired ratios (each request against its
neighbour in time, which the machine's load weighs on alike), and the Server-Timing breakdown of the
origin's p50 request. It never asserts: the figures are for reading beside the load average it prints.

With the variant lookup off (``--set VIPSFRONT_VARIANT_LOOKUP=0``, or ``--as-deployed``: the settings of the
transform function behind CloudFront, ``services.AS_DEPLOYED``, which also store each miss before answering)
the origin is measured as deployed: the misses are sent in the canonical path form the CloudFront Function
forwards, each must show no ``s3-variant`` step in its Server-Timing, and there are no hits to measure
(CloudFront's origin group serves them from the variants bucket, a bare S3 GET).

    python3 benchmarks/hit_miss_overhead.py [--hits 300] [--misses 40] [--workers 2] [--op photo-400-jpeg]
        [--as-deployed] [--set VIPSFRONT_NAME=value ...]
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vipsfront.config.settings import DEFAULT_ORIGINALS_BUCKET, DEFAULT_VARIANTS_BUCKET, Settings
from vipsfront.cli.embedded_s3 import ensure_bucket, upload
from vipsfront_bench import corpus as corpus_mod
from vipsfront_bench import services
from vipsfront_bench.load import Client
from vipsfront_bench.runner import _canonical_path, _delete_variant, _route, _wait_stored
from vipsfront_bench.scenarios import OPS, Op
from vipsfront_bench.stats import percentile


def _p50(values: list[float]) -> float:
    return percentile(values, 50)


def _breakdown(timings: list[dict[str, float]]) -> str:
    """Median of each Server-Timing entry over the requests."""
    names = sorted({name for timing in timings for name in timing})
    return ", ".join(f"{name} {statistics.median(t.get(name, 0.0) for t in timings):.2f}" for name in names)


def _line(label: str, origin: list[float], other: list[float], other_label: str) -> str:
    paired = statistics.median(a / b for a, b in zip(origin, other, strict=True) if b > 0)
    return (
        f"  {label}: origin p50 {_p50(origin):.2f} ms, {other_label} p50 {_p50(other):.2f} ms, "
        f"ratio of p50s {_p50(origin) / _p50(other):.2f}x, median paired ratio {paired:.2f}x (n={len(origin)})"
    )


def _alternate(
    origin: Callable[[], None], other: Callable[[], None], n: int, *, warm: int, samples: tuple[list[Any], ...]
) -> None:
    """``warm`` untimed pairs, then ``n`` pairs, which one goes first alternating from pair to pair."""
    for _ in range(warm):
        origin()
        other()
    for values in samples:
        values.clear()
    for i in range(n):
        for step in (origin, other) if i % 2 == 0 else (other, origin):
            step()


def hits(http: Client, s3: Any, key: str, op: Op, n: int) -> None:
    routed = _route(key, op)
    reply = http.get(f"/{key}?{op.query()}")  # stores the variant if it is not stored yet
    _wait_stored(s3, DEFAULT_VARIANTS_BUCKET, key, op)
    origin_ms: list[float] = []
    bare_ms: list[float] = []
    timings: list[dict[str, float]] = []

    def one_hit() -> None:
        reply = http.get(f"/{key}?{op.query()}")
        if reply.status != 200 or reply.headers.get("x-vipsfront-variant") != "hit":
            raise RuntimeError(f"{op.id}: expected a hit, got {reply.status} {reply.body[:200]!r}")
        origin_ms.append(reply.ms)
        timings.append(reply.server_timing())

    def one_bare() -> None:
        started = time.perf_counter()
        s3.get_object(Bucket=DEFAULT_VARIANTS_BUCKET, Key=routed.variant_key)["Body"].read()
        bare_ms.append((time.perf_counter() - started) * 1000)

    _alternate(one_hit, one_bare, n, warm=10, samples=(origin_ms, bare_ms, timings))
    print(_line(f"hit {op.id} ({len(reply.body)} B)", origin_ms, bare_ms, "bare GET"))
    print(f"    server-timing medians (ms): {_breakdown(timings)}")


def misses(http: Client, s3: Any, key: str, source: bytes, op: Op, n: int, *, lookup: bool = True) -> None:
    """Misses alternating with the engine alone; without ``lookup`` in the canonical path form, as CloudFront
    forwards them to the deployed function, each checked to have skipped the lookup."""
    from vipsfront.engine.run import Limits, transform
    from vipsfront.url.grammar import build

    limits = Limits()
    spec = build(op.params())
    path = f"/{key}?{op.query()}" if lookup else _canonical_path(key, op)
    origin_ms: list[float] = []
    engine_ms: list[float] = []
    timings: list[dict[str, float]] = []

    def one_miss() -> None:
        _delete_variant(s3, DEFAULT_VARIANTS_BUCKET, key, op)
        reply = http.get(path)
        if reply.status != 200 or reply.headers.get("x-vipsfront-variant") != "miss":
            raise RuntimeError(f"{op.id}: expected a miss, got {reply.status} {reply.body[:200]!r}")
        timing = reply.server_timing()
        if ("s3-variant" in timing) != lookup:
            raise RuntimeError(f"{op.id}: variant lookup {'on' if lookup else 'off'}, yet Server-Timing {timing}")
        origin_ms.append(reply.ms)
        timings.append(timing)
        _wait_stored(s3, DEFAULT_VARIANTS_BUCKET, key, op)

    def one_engine() -> None:
        started = time.perf_counter()
        transform(source, spec, limits)
        engine_ms.append((time.perf_counter() - started) * 1000)

    _alternate(one_miss, one_engine, n, warm=3, samples=(origin_ms, engine_ms, timings))
    print(_line(f"miss {op.id} ({path})", origin_ms, engine_ms, "engine alone"))
    print(f"    server-timing medians (ms): {_breakdown(timings)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hits", type=int, default=300, help="hit/bare GET pairs per op")
    parser.add_argument("--misses", type=int, default=40, help="miss/engine pairs per op")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--op", action="append", help="op ids (default: photo-400-jpeg, photo-1200-jpeg)")
    parser.add_argument("--corpus", type=Path, default=None, help="default: ../shared/corpus, else samples")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="origin setting")
    parser.add_argument(
        "--as-deployed", action="store_true", help="the settings of the function behind CloudFront (--set wins)"
    )
    args = parser.parse_args()
    ops = [op for op in OPS if op.id in (args.op or ["photo-400-jpeg", "photo-1200-jpeg"])]
    settings = {**(services.AS_DEPLOYED if args.as_deployed else {}), **dict(item.split("=", 1) for item in args.set)}
    lookup = Settings.from_env(settings).variant_lookup
    corpus = corpus_mod.find(args.corpus, Path(tempfile.mkdtemp(prefix="hit-miss-")))
    print(f"origin settings: {settings or 'defaults'}; variant lookup {'on' if lookup else 'off'}")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with services.S3Server() as s3_server:
        s3 = s3_server.client()
        for bucket in (DEFAULT_ORIGINALS_BUCKET, DEFAULT_VARIANTS_BUCKET):
            ensure_bucket(s3, bucket)
        files = {corpus.key(path): path.read_bytes() for op in ops for path in corpus.files[op.role][:1]}
        upload(s3, DEFAULT_ORIGINALS_BUCKET, files)
        process, base, _ = services.start_origin(s3_server.endpoint, args.workers, settings)
        http = Client(base)
        try:
            for op in ops:
                key = corpus.key(corpus.files[op.role][0])
                if lookup:
                    hits(http, s3, key, op, args.hits)
                else:
                    print(f"  hit {op.id}: none through the origin (CloudFront's origin group reads the variant)")
                misses(http, s3, key, files[key], op, args.misses, lookup=lookup)
        finally:
            http.close()
            services.stop(process)
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
