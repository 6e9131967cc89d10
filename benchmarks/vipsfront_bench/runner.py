"""``vipsfront bench``: one command, one run, every figure measured side by side.

Phases: peers (found or installed) → moto S3 + corpus upload → cold start → origin (``vipsfront serve
--workers N``): cache misses, hits, canonical path form → origin configured as in Lambda (no variant
lookup, trusted path form): concurrency sweep → origin against origin (``origins.py``) → peers on the same
ops → SSIM and bytes at matched quality → cost → ``results.json``, ``results.md``, ``chart.png`` in ``--out``.
``--origins-only``: origin against origin and the engine alone, nothing else (no chart).
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vipsfront.cli.embedded_s3 import ensure_bucket, upload
from vipsfront.cli.workers import threads_per_worker
from vipsfront_bench import corpus as corpus_mod
from vipsfront_bench import origins, quality, scenarios, services
from vipsfront_bench import peers as peers_mod
from vipsfront_bench.load import Client, concurrent
from vipsfront_bench.options import ALL_PEERS, ORIGIN_PEERS, QUICK_PEERS, add_arguments
from vipsfront_bench.scenarios import OPS, Op
from vipsfront_bench.stats import geomean, ratio, summary


@dataclass(frozen=True)
class Plan:
    """How much to measure: ``--quick`` shrinks every count, never drops a scenario."""

    per_role: dict[str, int]
    repeats: int  # sequential passes over the files, per op
    hit_requests: int
    cold_starts: int
    sweep_levels: tuple[int, ...]
    sweep_seconds: float
    sweep_max: int
    peer_seconds: float
    peer_max: int
    matched_files: int
    qualities: tuple[int, ...]
    copies: int  # prefixes the originals are uploaded under for the like-for-like origins' cold misses
    process_per_op: bool = True  # a worker process per op, so each op's peak RSS is its own


FULL = Plan(
    per_role={"photo": 6, "large_jpeg": 2, "large_png": 1, "rgba_png": 1},
    repeats=2,
    hit_requests=20,
    cold_starts=3,
    sweep_levels=(1, 2, 4, 8),
    sweep_seconds=2.0,
    sweep_max=80,
    peer_seconds=2.0,
    peer_max=80,
    matched_files=3,
    qualities=scenarios.MATCHED_QUALITIES,
    copies=6,
)
QUICK = Plan(
    per_role={"photo": 2, "large_jpeg": 1, "large_png": 1, "rgba_png": 1},
    repeats=1,
    hit_requests=5,
    cold_starts=1,
    sweep_levels=(1, 2),
    sweep_seconds=0.4,
    sweep_max=3,
    peer_seconds=0.4,
    peer_max=3,
    matched_files=1,
    qualities=(50, 90),
    copies=2,
    process_per_op=False,
)


def progress(iterable: Any = None, **kwargs: Any) -> Any:
    """tqdm progress bars on stderr (plain iteration without tqdm)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return iterable if iterable is not None else _NoBar()
    return tqdm(iterable, file=sys.stderr, dynamic_ncols=True, leave=False, **kwargs)


class _NoBar:
    def update(self, n: int = 1) -> None: ...
    def close(self) -> None: ...
    def set_postfix_str(self, text: str) -> None: ...


def say(text: str) -> None:
    print(f"vipsfront bench: {text}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    import pyvips

    cpu = platform.processor()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil

        ram_gb = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:
        ram_gb = None
    os_name = platform.platform()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = f"{line.split('=', 1)[1].strip(chr(34))} (Linux {platform.release()})"
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gb": ram_gb,
        "os": os_name,
        "python": platform.python_version(),
        "pyvips": pyvips.__version__,
        "libvips": f"{pyvips.version(0)}.{pyvips.version(1)}.{pyvips.version(2)}",
    }


# ---------------------------------------------------------------------------------------------------
# origin scenarios


def _route(key: str, op: Op) -> Any:
    from vipsfront.url.route import route
    from vipsfront.url.keys import encode_key
    from vipsfront.url.policy import Policy

    return route(f"/{encode_key(key)}", op.query(), "*/*", Policy.create(), now=time.time())


def _canonical_path(key: str, op: Op) -> str:
    return str(_route(key, op).location)


def _delete_variant(s3: Any, bucket: str, key: str, op: Op) -> None:
    s3.delete_object(Bucket=bucket, Key=_route(key, op).variant_key)


def _wait_stored(s3: Any, bucket: str, key: str, op: Op, timeout: float = 30) -> None:
    """Wait (outside the timing) until a miss's variant is in S3: ``vipsfront serve`` stores it after the
    response, and a store landing after the next delete would turn the next miss into a hit."""
    variant = _route(key, op).variant_key
    end = time.perf_counter() + timeout
    while time.perf_counter() < end:
        try:
            s3.head_object(Bucket=bucket, Key=variant)
            return
        except Exception:
            time.sleep(0.01)


def _save(folder: Path, index: int, op: Op, data: bytes) -> str:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{index}.{'jpg' if op.format == 'jpeg' else op.format}"
    path.write_bytes(data)
    return str(path)


def cold_start(s3: services.S3Server, corpus: corpus_mod.Corpus, workers: int, runs: int) -> dict[str, Any]:
    """Process start to first image (a miss), and the Lambda handler module's import time."""
    from vipsfront.config.settings import DEFAULT_ORIGINALS_BUCKET, DEFAULT_VARIANTS_BUCKET

    client = s3.client()
    key = corpus.key(corpus.files["photo"][0])
    op = OPS[1]
    first_image: list[float] = []
    for _ in progress(range(runs), desc="cold start"):
        _delete_variant(client, DEFAULT_VARIANTS_BUCKET, key, op)
        started = time.perf_counter()
        process, base, _ = services.start_origin(s3.endpoint, workers)
        try:
            reply = Client(base).get(f"/{key}?{op.query()}")
            if reply.status == 200:
                first_image.append(time.perf_counter() - started)
                _wait_stored(client, DEFAULT_VARIANTS_BUCKET, key, op)
        finally:
            services.stop(process)
    handler = Path.cwd() / "functions" / "transform" / "handler.py"
    imports: list[float] = []
    reason = None
    if not handler.exists():
        reason = "functions/transform/handler.py not found from the working directory"
    else:
        code = (
            "import importlib.util, sys, time\n"
            "t = time.perf_counter()\n"
            f"spec = importlib.util.spec_from_file_location('handler', {str(handler)!r})\n"
            "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module)\n"
            "print(time.perf_counter() - t)\n"
        )
        env = services.clean_env(
            AWS_ENDPOINT_URL_S3=s3.endpoint,
            VIPSFRONT_ORIGINALS_BUCKET=DEFAULT_ORIGINALS_BUCKET,
            POWERTOOLS_TRACE_DISABLED="true",
        )
        for _ in range(runs):
            done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False)
            if done.returncode != 0:
                reason = f"import failed: {(done.stderr.strip().splitlines() or ['?'])[-1][:200]}"
                break
            imports.append(float(done.stdout.strip().splitlines()[-1]))
    return {
        "workers": workers,
        "process_start_to_first_image_s": summary(first_image),
        "handler_import_s": summary(imports) if imports else {"skipped": reason},
    }


def origin_scenarios(
    s3: services.S3Server, corpus: corpus_mod.Corpus, plan: Plan, workers: int, outdir: Path
) -> dict[str, Any]:
    """Misses, hits and path-form requests against ``vipsfront serve`` (variant lookup on)."""
    from vipsfront.config.settings import DEFAULT_VARIANTS_BUCKET

    client = s3.client()
    process, base, _ = services.start_origin(s3.endpoint, workers)
    sampler = services.RssSampler(process.pid)
    http = Client(base)
    miss: dict[str, Any] = {}
    hit: dict[str, Any] = {}
    try:
        bar = progress(total=sum(len(corpus.files[op.role]) * plan.repeats for op in OPS), desc="origin misses")
        for op in OPS:
            files = corpus.files[op.role]
            latencies, totals, transforms, sizes, outputs = [], [], [], [], []
            with sampler.window() as rss:
                for rep in range(plan.repeats):
                    for index, path in enumerate(files):
                        key = corpus.key(path)
                        _delete_variant(client, DEFAULT_VARIANTS_BUCKET, key, op)
                        reply = http.get(f"/{key}?{op.query()}")
                        _wait_stored(client, DEFAULT_VARIANTS_BUCKET, key, op)
                        bar.update()
                        if reply.status != 200 or reply.headers.get("x-vipsfront-variant") != "miss":
                            raise RuntimeError(f"{op.id} {key}: {reply.status} {reply.body[:200]!r}")
                        timing = reply.server_timing()
                        latencies.append(reply.ms)
                        totals.append(timing.get("total", reply.ms))
                        transforms.append(timing.get("transform", 0.0))
                        if rep == 0:
                            sizes.append(len(reply.body))
                            outputs.append(_save(outdir / "origin" / op.id, index, op, reply.body))
            miss[op.id] = {
                "latency_ms": summary(latencies),
                "server_total_ms": summary(totals),
                "transform_ms": summary(transforms),
                "bytes": sizes,
                "outputs": outputs,
                "rss": rss,
                "samples_ms": latencies,
            }
        bar.close()

        # hits: the last pass left every variant stored; a bare S3 GET of the same object for scale
        bar = progress(total=len(OPS), desc="origin hits")
        for op in OPS:
            key = corpus.key(corpus.files[op.role][0])
            routed = _route(key, op)
            canonical, variant_key = routed.location, routed.variant_key
            with sampler.window() as rss:
                query_ms, path_ms = [], []
                for _ in range(plan.hit_requests):
                    reply = http.get(f"/{key}?{op.query()}")
                    if reply.headers.get("x-vipsfront-variant") != "hit":
                        raise RuntimeError(f"{op.id}: expected a hit, got {reply.status}")
                    query_ms.append(reply.ms)
                    reply = http.get(canonical)
                    if reply.headers.get("x-vipsfront-variant") != "hit":
                        raise RuntimeError(f"{op.id}: path form {canonical}: {reply.status} {reply.body[:200]!r}")
                    path_ms.append(reply.ms)
            s3_ms = []
            for _ in range(plan.hit_requests):
                started = time.perf_counter()
                client.get_object(Bucket=DEFAULT_VARIANTS_BUCKET, Key=variant_key)["Body"].read()
                s3_ms.append((time.perf_counter() - started) * 1000)
            hit[op.id] = {
                "query_form_ms": summary(query_ms),
                "path_form_ms": summary(path_ms),
                "bare_s3_get_ms": summary(s3_ms),
                "canonical_path": canonical,
                "bytes": len(reply.body),
                "rss": rss,
            }
            bar.update()
        bar.close()

        # a miss in the canonical path form, as CloudFront forwards it
        op = OPS[1]
        path_miss = []
        for path in corpus.files[op.role]:
            key = corpus.key(path)
            _delete_variant(client, DEFAULT_VARIANTS_BUCKET, key, op)
            reply = http.get(_canonical_path(key, op))
            if reply.status == 200:
                path_miss.append(reply.ms)
                _wait_stored(client, DEFAULT_VARIANTS_BUCKET, key, op)
        idle = services.tree_rss_mb(process.pid)
    finally:
        http.close()
        sampler.close()
        services.stop(process)
    return {
        "miss": miss,
        "hit": hit,
        "path_form_miss": {"op": op.id, "latency_ms": summary(path_miss)},
        "server_rss_end_mb": idle[0],
        "server_processes": idle[1],
    }


def sweep(s3: services.S3Server, corpus: corpus_mod.Corpus, plan: Plan, workers: int) -> dict[str, Any]:
    """Throughput and tail latency at 1, 2, 4, 8 clients, every request a transform: the origin runs as
    in Lambda behind the S3-first origin group (no variant lookup, canonical path form trusted)."""
    env = {"VIPSFRONT_VARIANT_LOOKUP": "0", "VIPSFRONT_TRUST_PATH_FORM": "1"}
    process, base, _ = services.start_origin(s3.endpoint, workers, env)
    sampler = services.RssSampler(process.pid)
    results: dict[str, Any] = {}
    runs = [(op, level) for op in OPS for level in (plan.sweep_levels if op.sweep else (2,))]
    try:
        for op, level in progress(runs, desc="concurrency sweep"):
            files = corpus.files[op.role]
            paths = [_canonical_path(corpus.key(f), op) for f in files]
            with sampler.window() as rss:
                load = concurrent(base, lambda i, p=paths: p[i % len(p)], level, plan.sweep_seconds, plan.sweep_max)
            results.setdefault(op.id, {})[str(level)] = {
                "concurrency": level,
                "images_per_s": load.images_per_s,
                "images": len(load.latency_ms),
                "errors": load.errors,
                "latency_ms": summary(load.latency_ms),
                "rss": rss,
            }
    finally:
        sampler.close()
        services.stop(process)
    return {"config": env, "ops": results}


# ---------------------------------------------------------------------------------------------------
# peers


def _peer_entry(result: dict[str, Any]) -> dict[str, Any]:
    load = result.get("throughput")
    return {
        "version": result.get("version"),
        "latency_ms": summary(result.get("latency_ms", [])),
        "bytes": result.get("bytes", []),
        "outputs": result.get("outputs", []),
        "throughput": None
        if not load
        else {
            "concurrency": load["concurrency"],
            "images_per_s": load["images_per_s"],
            "images": load["images"],
            "latency_ms": summary(load["latency_ms"]),
        },
        "rss_peak_mb": result.get("rss_peak_mb"),
    }


def run_worker_peer(
    peer: peers_mod.Peer, corpus: corpus_mod.Corpus, plan: Plan, concurrency: int, outdir: Path
) -> dict[str, Any]:
    """One process per op, so each op's peak RSS is its own (``--quick``: one process for all ops)."""
    throughput = {"concurrency": concurrency, "seconds": plan.peer_seconds, "max_images": plan.peer_max}
    jobs = [op.job(corpus.files[op.role], repeats=plan.repeats, throughput=throughput) for op in OPS]
    batches = [[job] for job in jobs] if plan.process_per_op else [jobs]
    ops: dict[str, Any] = {}
    for batch in progress(batches, desc=peer.name):
        try:
            results = peer.run(batch, outdir, timeout=600)
        except Exception as error:  # one op failing does not sink the peer
            ops.update({job["id"]: {"skipped": str(error)} for job in batch})
            continue
        for result in results:
            entry = {"skipped": result["skipped"]} if "skipped" in result else _peer_entry(result)
            if not plan.process_per_op:
                entry["rss_note"] = "one process ran every op: peak RSS is cumulative"
            ops[result["op"]] = entry
            peer.version = peer.version or result.get("version")
    return ops


def run_thumbor(
    peer: peers_mod.Peer, corpus: corpus_mod.Corpus, plan: Plan, concurrency: int, processes: int, outdir: Path
) -> dict[str, Any]:
    from vipsfront.engine.run import Limits

    assert peer.venv is not None
    config = peers_mod.peers_dir() / "thumbor" / "thumbor.conf"
    settings = {"VIPSFRONT_BENCH_CORPUS": str(corpus.root), "VIPSFRONT_BENCH_AVIF_SPEED": str(9 - Limits().avif_effort)}
    process, base = services.start_thumbor(peer.venv, config, settings, processes)
    sampler = services.RssSampler(process.pid)
    http = Client(base)
    ops: dict[str, Any] = {}
    try:
        for op in progress(OPS, desc="thumbor"):
            files = corpus.files[op.role]
            paths = [op.thumbor_path(corpus.key(f)) for f in files]
            with sampler.window() as rss:
                warm = http.get(paths[0])
                if warm.status != 200:
                    ops[op.id] = {"skipped": f"thumbor answered {warm.status} to {paths[0]}"}
                    continue
                latencies, sizes, outputs = [], [], []
                for rep in range(plan.repeats):
                    for index, path in enumerate(paths):
                        reply = http.get(path)
                        latencies.append(reply.ms)
                        if rep == 0:
                            sizes.append(len(reply.body))
                            outputs.append(_save(outdir / "thumbor" / op.id, index, op, reply.body))
                load = concurrent(base, lambda i, p=paths: p[i % len(p)], concurrency, plan.peer_seconds, plan.peer_max)
            ops[op.id] = _peer_entry(
                {
                    "version": peer.version,
                    "latency_ms": latencies,
                    "bytes": sizes,
                    "outputs": outputs,
                    "throughput": {
                        "concurrency": concurrency,
                        "images_per_s": load.images_per_s,
                        "images": len(load.latency_ms),
                        "latency_ms": load.latency_ms,
                    },
                    "rss_peak_mb": rss["peak_mb"],
                }
            )
            ops[op.id]["notes"] = "cover crops centred (smart needs detectors)" if op.position else None
    finally:
        http.close()
        sampler.close()
        services.stop(process)
    return ops


# ---------------------------------------------------------------------------------------------------
# quality


def score_outputs(
    engines: dict[str, dict[str, Any]], corpus: corpus_mod.Corpus, ops: Sequence[Op] = OPS
) -> dict[str, Any]:
    """SSIM and bytes of every engine's first-pass outputs, per op of ``ops``."""
    scores: dict[str, Any] = {}
    jobs = [
        (name, op) for name, done in engines.items() for op in ops if op.scored and done.get(op.id, {}).get("outputs")
    ]
    for name, op in progress(jobs, desc="SSIM"):
        files = corpus.files[op.role]
        values = [
            quality.score(Path(out).read_bytes(), files[i]) for i, out in enumerate(engines[name][op.id]["outputs"])
        ]
        scores.setdefault(op.id, {})[name] = {
            "ssim_mean": sum(v["ssim"] for v in values) / len(values),
            "ssim_min": min(v["ssim"] for v in values),
            "bytes_mean": sum(v["bytes"] for v in values) / len(values),
            "size": f"{values[0]['width']}x{values[0]['height']}",
        }
    return scores


def matched_quality(
    available: dict[str, peers_mod.Peer], corpus: corpus_mod.Corpus, plan: Plan, outdir: Path, target: float
) -> dict[str, Any]:
    """Each engine encodes photos at ``MATCHED_WIDTH`` over a grid of qualities per format; per file the
    bytes at SSIM ``target`` are interpolated, then averaged."""
    files = corpus.files["photo"][: plan.matched_files]
    curves: dict[str, dict[str, list[list[tuple[float, float]]]]] = {}
    defaults: dict[str, Any] = {}
    names = [n for n in ("engine", "pillow", "pillow-simd", "sharp") if n in available]
    for name in progress(names, desc="matched quality"):
        peer = available[name]
        ops = []
        for fmt in scenarios.MATCHED_FORMATS:
            qualities = set(plan.qualities)
            if fmt == "jpeg":
                qualities.add(scenarios.DEFAULT_JPEG_QUALITY[name])
            for q in sorted(qualities):
                op = Op(f"matched-{fmt}-q{q}", "", "photo", scenarios.MATCHED_WIDTH, fmt)
                job = op.job(files, repeats=1)
                job["quality"] = q
                job["params"] = {**job["params"], "q": str(q)}
                ops.append((fmt, q, job))
        try:
            results = peer.run([job for _, _, job in ops], outdir / "matched", timeout=900)
        except Exception as error:
            curves[name] = {"skipped": str(error)}  # type: ignore[dict-item]
            continue
        per_format: dict[str, Any] = {}
        for (fmt, q, _), result in zip(ops, results, strict=True):
            if "skipped" in result or not result.get("outputs"):
                per_format.setdefault(fmt, {"skipped": result.get("skipped", "no output")})
                continue
            points = [quality.score(Path(o).read_bytes(), files[i]) for i, o in enumerate(result["outputs"])]
            entry = per_format.setdefault(fmt, {"points": []})
            if "points" in entry:
                entry["points"].append(
                    {"q": q, "ssim": [p["ssim"] for p in points], "bytes": [p["bytes"] for p in points]}
                )
            if fmt == "jpeg" and q == scenarios.DEFAULT_JPEG_QUALITY[name]:
                defaults[name] = {
                    "format": "jpeg",
                    "q": q,
                    "ssim": [p["ssim"] for p in points],
                    "bytes": [p["bytes"] for p in points],
                }
        curves[name] = per_format  # type: ignore[assignment]

    def bytes_at(points: list[dict[str, Any]], targets: list[float]) -> float | None:
        found = []
        for i, t in enumerate(targets):
            value = quality.bytes_at([(p["ssim"][i], p["bytes"][i]) for p in points], t)
            if value is None:
                return None
            found.append(value)
        return sum(found) / len(found)

    table: dict[str, Any] = {}
    for name, per_format in curves.items():
        if "skipped" in per_format:
            table[name] = per_format
            continue
        for fmt, entry in per_format.items():
            if "points" not in entry:
                table.setdefault(name, {})[fmt] = entry
                continue
            table.setdefault(name, {})[fmt] = {
                "bytes_at_target": bytes_at(entry["points"], [target] * len(files)),
                "points": entry["points"],
            }
    # Each peer's default JPEG output against vipsfront's AVIF and WebP at the same SSIM, file by file.
    versus: dict[str, Any] = {}
    ours = table.get("engine", {})
    for name, default in defaults.items():
        if name == "engine":
            continue
        row: dict[str, Any] = {"peer_bytes": sum(default["bytes"]) / len(default["bytes"])}
        row["peer_ssim"] = sum(default["ssim"]) / len(default["ssim"])
        for fmt in ("avif", "webp"):
            entry = ours.get(fmt, {})
            row[f"vipsfront_{fmt}_bytes"] = bytes_at(entry["points"], default["ssim"]) if "points" in entry else None
        versus[name] = row
    return {
        "width": scenarios.MATCHED_WIDTH,
        "files": [corpus.key(f) for f in files],
        "target_ssim": target,
        "engines": table,
        "default_jpeg_vs_vipsfront": versus,
        "_defaults": defaults,
    }


def thumbor_default(thumbor: dict[str, Any], corpus: corpus_mod.Corpus, count: int) -> dict[str, Any] | None:
    """thumbor's default output (JPEG q80) for the matched-quality files, from its photo-1200-jpeg run."""
    entry = thumbor.get("photo-1200-jpeg", {})
    outputs = entry.get("outputs", [])[:count]
    if not outputs:
        return None
    points = [quality.score(Path(o).read_bytes(), corpus.files["photo"][i]) for i, o in enumerate(outputs)]
    return {"format": "jpeg", "q": 80, "ssim": [p["ssim"] for p in points], "bytes": [p["bytes"] for p in points]}


# ---------------------------------------------------------------------------------------------------
# cost and the goals


def costs(origin: dict[str, Any], memory_mb: int, architecture: str) -> dict[str, Any]:
    from vipsfront.config.cost import Architecture, CostModel, per_million
    from vipsfront.telemetry import Outcome, RequestRecord

    model = CostModel(memory_mb=memory_mb, architecture=Architecture.parse(architecture))
    rows: dict[str, Any] = {}
    for op in OPS:
        miss = origin["miss"][op.id]
        out_bytes = int(sum(miss["bytes"]) / len(miss["bytes"]))
        record = RequestRecord(outcome=Outcome.MISS, status=200, output_bytes=out_bytes)
        record.timings["total"] = miss["server_total_ms"]["p50"]
        missed = per_million(model.estimate(record))
        hit_record = RequestRecord(outcome=Outcome.HIT, status=200, output_bytes=out_bytes)
        hit_record.timings["total"] = origin["hit"][op.id]["query_form_ms"]["p50"]
        hit = per_million(model.estimate(hit_record))
        rows[op.id] = {"miss_usd_per_million": missed.as_dict(), "hit_usd_per_million": hit.as_dict()}
    return {
        "memory_mb": memory_mb,
        "architecture": architecture,
        "duration": "server-side p50 (Server-Timing total) of the local run",
        "caveat": "Local CPU time only approximates Lambda's: its vCPU share scales with memory "
        "(1 vCPU per 1,769 MB) and its processors differ from this machine's",
        "ops": rows,
    }


def over_peer(misses: dict[str, float | None], peers: dict[str, Any], name: str) -> dict[str, float | None]:
    """Each op's miss p50 over peer ``name``'s p50 of the same op id, one image at a time (None where either
    is missing: an op the peer did not run, such as the like-for-like centred crop against the engine's
    attention crop)."""
    return {
        op_id: ratio(miss, peers.get(name, {}).get(op_id, {}).get("latency_ms", {}).get("p50"))
        for op_id, miss in misses.items()
    }


def ratios(results: dict[str, Any]) -> dict[str, Any]:
    """Issue 3's ratios, the throughput/latency ratios of the origin and engine to each peer, and the miss
    of vipsfront as deployed (origin against origin) over the engine alone."""
    peers = results["peers"]
    deployed = (results.get("origins") or {}).get(origins.DEPLOYED, {}).get("ops", {})
    deployed_vs_engine = over_peer({op_id: e["miss_ms"].get("p50") for op_id, e in deployed.items()}, peers, "engine")
    deployed_geomean = geomean(list(deployed_vs_engine.values()))
    if "origin" not in results:  # --origins-only
        return {
            "deployed_miss_p50_over_engine_p50": deployed_vs_engine,
            "geomean": {"deployed_miss_over_engine": deployed_geomean},
        }
    origin = results["origin"]
    misses = {op.id: origin["miss"][op.id]["latency_ms"]["p50"] for op in OPS}
    miss_vs_bare, miss_vs_engine = over_peer(misses, peers, "bare"), over_peer(misses, peers, "engine")
    hit_vs_s3, path_hit_vs_s3 = {}, {}
    for op in OPS:
        hit = origin["hit"][op.id]
        hit_vs_s3[op.id] = ratio(hit["query_form_ms"]["p50"], hit["bare_s3_get_ms"]["p50"])
        path_hit_vs_s3[op.id] = ratio(hit["path_form_ms"]["p50"], hit["bare_s3_get_ms"]["p50"])
    throughput: dict[str, Any] = {}
    for op in OPS:
        sweep = results["sweep"]["ops"].get(op.id, {}).get("2")
        ours = {"origin": sweep["images_per_s"] if sweep else None}
        for name, ops in peers.items():
            entry = ops.get(op.id, {})
            ours[name] = (entry.get("throughput") or {}).get("images_per_s")
        row = {}
        for mine in ("origin", "engine"):
            for other in peers:
                if other != mine and ours.get(mine) and ours.get(other):
                    row[f"{mine}/{other}"] = ours[mine] / ours[other]
        throughput[op.id] = {"images_per_s": ours, "ratios": row}
    return {
        "miss_p50_over_bare_p50": miss_vs_bare,
        "miss_p50_over_engine_p50": miss_vs_engine,
        "hit_p50_over_s3_get_p50": hit_vs_s3,
        "path_hit_p50_over_s3_get_p50": path_hit_vs_s3,
        "geomean": {
            "miss_over_bare": geomean(list(miss_vs_bare.values())),
            "miss_over_engine": geomean(list(miss_vs_engine.values())),
            "hit_over_s3_get": geomean(list(hit_vs_s3.values())),
            "deployed_miss_over_engine": deployed_geomean,
        },
        "throughput_c2": throughput,
        "deployed_miss_p50_over_engine_p50": deployed_vs_engine,
    }


# ---------------------------------------------------------------------------------------------------
# the command


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vipsfront bench", description="Benchmark the origin on moto, side by side.")
    add_arguments(p)
    return p


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    if threading.current_thread() is threading.main_thread():
        # stopped with SIGTERM (``kill``, a CI timeout), the run unwinds like Ctrl-C: its ``finally``
        # blocks stop the servers it started (moto, the origin tree, thumbor, node) instead of orphaning them
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    return run(parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    plan = QUICK if args.quick else FULL
    out: Path = args.out
    outdir = out / "outputs"
    out.mkdir(parents=True, exist_ok=True)
    corpus = corpus_mod.find(args.corpus, out).limited(plan.per_role)
    missing = [role for role in corpus_mod.ROLES if not corpus.files.get(role)]
    if missing:
        raise SystemExit(f"vipsfront bench: the corpus has no {', '.join(missing)} images")
    wanted = [n.strip() for n in (args.peers or ",".join(QUICK_PEERS if args.quick else ALL_PEERS)).split(",")]
    for name in ("bare", "engine"):  # the ratios are read against them
        if name not in wanted:
            wanted.insert(0, name)
    if args.origins_only:  # the origins, and the engine alone for the deployed miss's ratio
        wanted = [n for n in wanted if n in (*ORIGIN_PEERS, "engine")]
    say(f"corpus {corpus.name}: " + ", ".join(f"{len(v)} {k}" for k, v in corpus.files.items()))
    prepared = {}
    for name in progress(wanted, desc="peers"):
        prepared[name] = peers_mod.prepare(name, args.venvs, install=not args.no_install)
    for peer in prepared.values():
        if peer.skipped:
            say(f"{peer.name} skipped: {peer.skipped}")
    # the engine alone runs with the libvips threads each worker of ``vipsfront serve --workers N`` has, so a
    # miss through the origin is read against the same engine
    threads = os.environ.get("VIPS_CONCURRENCY") or str(threads_per_worker(args.workers))
    for name in ("bare", "engine"):
        if name in prepared:
            prepared[name].env["VIPS_CONCURRENCY"] = threads
    available = {n: p for n, p in prepared.items() if not p.skipped}

    results: dict[str, Any] = {
        "command": "vipsfront bench"
        + (" --quick" if args.quick else "")
        + (" --origins-only" if args.origins_only else ""),
        "machine": machine(),
        "corpus": {"name": corpus.name, "files": {k: [corpus.key(p) for p in v] for k, v in corpus.files.items()}},
        "plan": {k: v for k, v in plan.__dict__.items()},
        "ops": [{**op.__dict__, "quality": op.quality, "query": op.query()} for op in OPS],
        "origins_ops": [{**op.__dict__, "quality": op.quality, "query": op.query()} for op in origins.OPS],
        "settings": {
            "workers": args.workers,
            "peer_concurrency": args.peer_concurrency,
            "libvips_threads": f"{threads} in each origin worker and in the engine and bare pyvips workers; "
            "sharp its own default",
        },
    }
    s3 = services.S3Server(log=out / "moto.log")  # its request errors (client disconnects) stay out of ours
    try:
        from vipsfront.config.settings import DEFAULT_ORIGINALS_BUCKET, DEFAULT_VARIANTS_BUCKET

        client = s3.client()
        for bucket in (DEFAULT_ORIGINALS_BUCKET, DEFAULT_VARIANTS_BUCKET):
            ensure_bucket(client, bucket)
        upload(client, DEFAULT_ORIGINALS_BUCKET, {corpus.key(p): p.read_bytes() for p in corpus.all_files()})
        say(f"moto S3 on {s3.endpoint}, {len(corpus.all_files())} originals uploaded")
        if not args.origins_only:
            results["cold_start"] = cold_start(s3, corpus, args.workers, plan.cold_starts)
            results["origin"] = origin_scenarios(s3, corpus, plan, args.workers, outdir)
            results["sweep"] = sweep(s3, corpus, plan, args.workers)
        like = [n for n in ORIGIN_PEERS if n in prepared]
        results["origins"] = origins.run(like, prepared, s3, corpus, plan, args.workers, args.peer_concurrency, outdir)
    finally:
        s3.close()

    results["peers"] = {}
    for name, peer in available.items():
        if peer.kind == "origin":
            continue
        if peer.kind == "http":
            try:
                results["peers"][name] = run_thumbor(peer, corpus, plan, args.peer_concurrency, args.workers, outdir)
            except Exception as error:
                peer.skipped = f"did not run: {error}"
        else:
            results["peers"][name] = run_worker_peer(peer, corpus, plan, args.peer_concurrency, outdir)
    results["peer_versions"] = {n: {"version": p.version, "skipped": p.skipped} for n, p in prepared.items()}
    like_outputs = {f"origin:{n}": o["ops"] for n, o in results["origins"].items() if "ops" in o}
    results["origins_quality"] = score_outputs(like_outputs, corpus, origins.OPS)
    if not args.origins_only:
        full_run(results, available, corpus, plan, outdir, args)
    results["ratios"] = ratios(results)
    results["seconds"] = time.perf_counter() - started

    from vipsfront_bench import report

    report.write(results, out)
    written = [out / "results.json", out / "results.md"] + ([] if args.origins_only else [out / "chart.png"])
    say(f"done in {results['seconds']:.0f} s: {', '.join(map(str, written))}")
    return 0


def full_run(
    results: dict[str, Any],
    available: dict[str, peers_mod.Peer],
    corpus: corpus_mod.Corpus,
    plan: Plan,
    outdir: Path,
    args: argparse.Namespace,
) -> None:
    """The engine-level scoring, bytes at matched quality and cost of a full run, into ``results``."""
    engines = {"origin": results["origin"]["miss"], **results["peers"]}
    results["quality"] = score_outputs(engines, corpus)
    matched = matched_quality(available, corpus, plan, outdir, args.ssim_target)
    if "thumbor" in results["peers"]:
        default = thumbor_default(results["peers"]["thumbor"], corpus, plan.matched_files)
        ours = matched["engines"].get("engine", {})
        if default:
            row: dict[str, Any] = {
                "peer_bytes": sum(default["bytes"]) / len(default["bytes"]),
                "peer_ssim": sum(default["ssim"]) / len(default["ssim"]),
            }
            for fmt in ("avif", "webp"):
                points = ours.get(fmt, {}).get("points")
                row[f"vipsfront_{fmt}_bytes"] = None
                if points:
                    found = [
                        quality.bytes_at([(p["ssim"][i], p["bytes"][i]) for p in points], s)
                        for i, s in enumerate(default["ssim"])
                    ]
                    if all(v is not None for v in found):
                        row[f"vipsfront_{fmt}_bytes"] = sum(found) / len(found)  # type: ignore[arg-type]
            matched["default_jpeg_vs_vipsfront"]["thumbor"] = row
    matched.pop("_defaults", None)
    results["matched_quality"] = matched
    results["cost"] = costs(results["origin"], args.lambda_memory_mb, args.lambda_arch)
