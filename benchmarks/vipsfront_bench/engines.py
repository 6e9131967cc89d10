"""``vipsfront bench engines``: the engine against bare pyvips and its peers, on the same files and ops.

Peers (``peers.py``): ``bare`` (pyvips ``thumbnail_buffer`` + save, the engine's floor), ``engine``
(``vipsfront.engine.run.transform`` alone, no HTTP or S3), ``pillow`` and ``pillow-simd`` (``draft()`` +
LANCZOS), ``sharp`` (node), each in a worker process per op (``worker.py``), and ``thumbor`` over HTTP
with its file loader. The engine and bare pyvips run with ``--threads`` libvips threads (1: what the
stack's 1769 MB function gets). Per op: latency one image at a time, throughput with ``--concurrency``
in flight, the process's peak RSS, SSIMULACRA2 and bytes of the outputs. Then bytes at matched quality:
each engine encodes photos at ``MATCHED_WIDTH`` over a grid of qualities, and the bytes at SSIMULACRA2
``--target`` are interpolated per file; each peer's default JPEG is set against the engine's AVIF and
WebP at the same score. A peer that cannot be installed or started is skipped with the reason.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from vipsfront_bench import corpus as corpora
from vipsfront_bench import peers as peer_list
from vipsfront_bench import report, scenarios, services
from vipsfront_bench.load import Client, concurrent
from vipsfront_bench.scenarios import Op
from vipsfront_bench.score import bytes_at, score
from vipsfront_bench.stats import geomean, ratio, summary

ALL = ("bare", "engine", "pillow", "pillow-simd", "sharp", "thumbor")
QUICK = ("bare", "engine", "pillow")
MATCHED = ("engine", "pillow", "pillow-simd", "sharp")  # the worker peers whose encoders take a quality


def add_arguments(parser: argparse.ArgumentParser) -> None:
    scenarios.add_arguments(parser)
    parser.add_argument("--peers", help=f"comma list from {','.join(ALL)} (default all; --quick {','.join(QUICK)})")
    parser.add_argument("--no-install", action="store_true", help="skip peers that are not installed yet")
    parser.add_argument("--venvs", type=Path, default=Path("build") / "bench-venvs", help="peer virtualenvs")
    parser.add_argument("--threads", type=int, default=1, help="libvips threads of the engine and bare pyvips (1)")
    parser.add_argument("--concurrency", type=int, default=2, help="images in flight for the throughput (2)")
    parser.add_argument("--target", type=float, default=70.0, help="SSIMULACRA2 for bytes at matched quality (70)")


def worker_peer(
    peer: peer_list.Peer, ops: tuple[Op, ...], corpus: corpora.Corpus, plan: dict[str, Any]
) -> dict[str, Any]:
    """One worker process per op, so each op's peak RSS is its own."""
    load = {"concurrency": plan["concurrency"], "seconds": plan["seconds"], "max_images": plan["max_images"]}
    results: dict[str, Any] = {}
    for op in report.progress(ops, peer.name):
        job = op.job(corpus.files[op.role], repeats=plan["repeats"], throughput=load)
        try:
            (result,) = peer.run([job], plan["outputs"], timeout=600)
        except Exception as error:  # one op failing does not sink the peer
            results[op.id] = {"skipped": str(error)[:300]}
            continue
        peer.version = peer.version or result.get("version")
        results[op.id] = {"skipped": result["skipped"]} if "skipped" in result else entry(result)
    return results


def entry(result: dict[str, Any]) -> dict[str, Any]:
    """A worker's (or thumbor's) figures for one op, summarised."""
    load = result.get("throughput")
    return {
        "latency_ms": summary(result.get("latency_ms", [])),
        "bytes": result.get("bytes", []),
        "outputs": result.get("outputs", []),
        "throughput": None
        if not load
        else {
            "concurrency": load["concurrency"],
            "images_per_s": load["images_per_s"],
            "latency_ms": summary(load["latency_ms"]),
        },
        "rss_peak_mb": result.get("rss_peak_mb"),
    }


def thumbor(peer: peer_list.Peer, ops: tuple[Op, ...], corpus: corpora.Corpus, plan: dict[str, Any]) -> dict[str, Any]:
    """thumbor 7 over HTTP with its file loader, one process, the same ops on the same files."""
    from vipsfront.engine.limits import Limits

    assert peer.venv is not None
    config = peer_list.peers_dir() / "thumbor" / "thumbor.conf"
    settings = {"VFBENCH_CORPUS": str(corpus.root), "VFBENCH_AVIF_SPEED": str(9 - Limits().avif_effort)}
    process, base = services.start_thumbor(peer.venv, config, settings, 1)
    sampler = services.RssSampler(process.pid)
    http = Client(base)
    results: dict[str, Any] = {}
    try:
        for op in report.progress(ops, "thumbor"):
            paths = [op.thumbor_path(corpus.key(f)) for f in corpus.files[op.role]]
            with sampler.window() as rss:
                if http.get(paths[0]).status != 200:
                    results[op.id] = {"skipped": f"thumbor did not answer 200 to {paths[0]}"}
                    continue
                latencies, sizes, outputs = [], [], []
                for rep in range(plan["repeats"]):
                    for index, path in enumerate(paths):
                        reply = http.get(path)
                        latencies.append(reply.ms)
                        if rep == 0:
                            sizes.append(len(reply.body))
                            folder = plan["outputs"] / "thumbor" / op.id
                            outputs.append(report.save_output(folder, index, op.format, reply.body))
                load = concurrent(base, round_robin(paths), plan["concurrency"], plan["seconds"], plan["max_images"])
            results[op.id] = entry(
                {
                    "latency_ms": latencies,
                    "bytes": sizes,
                    "outputs": outputs,
                    "throughput": {
                        "concurrency": plan["concurrency"],
                        "images_per_s": load.images_per_s,
                        "latency_ms": load.latency_ms,
                    },
                    "rss_peak_mb": rss["peak_mb"],
                }
            )
    finally:
        http.close()
        sampler.close()
        services.stop(process)
    return results


def round_robin(paths: list[str]) -> Callable[[int], str]:
    """The ``i``-th request's path: the files in turn."""
    return lambda i: paths[i % len(paths)]


def scores(measured: dict[str, dict[str, Any]], ops: tuple[Op, ...], corpus: corpora.Corpus) -> dict[str, Any]:
    """SSIMULACRA2 and bytes of every engine's outputs, per op (smart crops left out: each crops elsewhere)."""
    table: dict[str, Any] = {}
    jobs = [(name, op) for name in measured for op in ops if op.scored and measured[name].get(op.id, {}).get("outputs")]
    for name, op in report.progress(jobs, "SSIMULACRA2"):
        files = corpus.files[op.role]
        values = [score(Path(o).read_bytes(), files[i]) for i, o in enumerate(measured[name][op.id]["outputs"])]
        table.setdefault(op.id, {})[name] = {
            "ssimulacra2_mean": statistics.fmean(v["ssimulacra2"] for v in values),
            "bytes_mean": statistics.fmean(v["bytes"] for v in values),
            "size": f"{values[0]['width']}x{values[0]['height']}",
        }
    return table


def matched(
    available: dict[str, peer_list.Peer],
    corpus: corpora.Corpus,
    grid: tuple[int, int, tuple[int, ...]],
    target: float,
    outputs: Path,
) -> dict[str, Any]:
    """Bytes at SSIMULACRA2 ``target`` per engine and format on ``grid`` (files, width, qualities), and each
    peer's default JPEG against the engine's AVIF and WebP at that JPEG's own score."""
    files, width, qualities = grid
    photos = corpus.files["photo"][:files]
    curves: dict[str, Any] = {}
    defaults: dict[str, list[dict[str, float]]] = {}
    for name in report.progress([n for n in MATCHED if n in available], "matched quality"):
        jobs = []
        for fmt in scenarios.MATCHED_FORMATS:
            rungs = set(qualities) | ({scenarios.DEFAULT_JPEG_QUALITY[name]} if fmt == "jpeg" else set())
            for q in sorted(rungs):
                op = Op(f"matched-{fmt}-q{q}", "", "photo", width, fmt)
                job = op.job(photos, repeats=1)
                job.update(quality=q, params={**job["params"], "q": str(q)})
                jobs.append((fmt, q, job))
        try:
            results = available[name].run([job for _, _, job in jobs], outputs / "matched", timeout=900)
        except Exception as error:
            curves[name] = {"skipped": str(error)[:300]}
            continue
        formats: dict[str, Any] = {}
        for (fmt, q, _), result in zip(jobs, results, strict=True):
            if "skipped" in result or not result.get("outputs"):
                formats.setdefault(fmt, {"skipped": result.get("skipped", "no output")})
                continue
            points = [score(Path(o).read_bytes(), photos[i]) for i, o in enumerate(result["outputs"])]
            formats.setdefault(fmt, {"points": []})["points"].append({"q": q, "per_file": points})
            if fmt == "jpeg" and q == scenarios.DEFAULT_JPEG_QUALITY[name]:
                defaults[name] = points
        for entry_ in formats.values():
            if "points" in entry_:
                entry_["bytes_at_target"] = mean_bytes_at(entry_["points"], [target] * len(photos))
        curves[name] = formats
    versus = {}
    ours = curves.get("engine", {})
    for name, points in defaults.items():
        if name == "engine":
            continue
        row: dict[str, Any] = {
            "default_jpeg_bytes": statistics.fmean(p["bytes"] for p in points),
            "default_jpeg_ssimulacra2": statistics.fmean(p["ssimulacra2"] for p in points),
        }
        for fmt in ("avif", "webp"):
            curve = ours.get(fmt, {}).get("points")
            row[f"engine_{fmt}_bytes"] = mean_bytes_at(curve, [p["ssimulacra2"] for p in points]) if curve else None
        versus[name] = row
    return {
        "width": width,
        "files": [corpus.key(p) for p in photos],
        "target": target,
        "engines": curves,
        "default_jpeg_vs_engine": versus,
    }


def mean_bytes_at(points: list[dict[str, Any]], targets: list[float]) -> float | None:
    """The mean over files of each file's bytes at its target score (None when a target is out of range)."""
    found = []
    for i, target in enumerate(targets):
        value = bytes_at([(p["per_file"][i]["ssimulacra2"], p["per_file"][i]["bytes"]) for p in points], target)
        if value is None:
            return None
        found.append(value)
    return statistics.fmean(found)


def ratios(measured: dict[str, dict[str, Any]], ops: tuple[Op, ...]) -> dict[str, Any]:
    """The engine's latency p50 over each peer's and its throughput over each peer's, per op, and geomeans."""
    engine = measured.get("engine", {})
    out: dict[str, Any] = {}
    for name, results in measured.items():
        if name == "engine":
            continue
        latency = {
            op.id: ratio(
                engine.get(op.id, {}).get("latency_ms", {}).get("p50"),
                results.get(op.id, {}).get("latency_ms", {}).get("p50"),
            )
            for op in ops
        }
        throughput = {
            op.id: ratio(
                (engine.get(op.id, {}).get("throughput") or {}).get("images_per_s"),
                (results.get(op.id, {}).get("throughput") or {}).get("images_per_s"),
            )
            for op in ops
        }
        out[name] = {
            "latency_p50": latency,
            "throughput": throughput,
            "geomean_latency_p50": geomean(list(latency.values())),
            "geomean_throughput": geomean(list(throughput.values())),
        }
    return out


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    ops = scenarios.select(args.ops, args.quick)
    corpus = corpora.find(args.corpus, args.out).limited(corpora.QUICK if args.quick else corpora.FULL)
    wanted = [n.strip() for n in (args.peers or ",".join(QUICK if args.quick else ALL)).split(",") if n.strip()]
    if "engine" not in wanted:  # the ratios are read against it
        wanted.insert(0, "engine")
    plan = {
        "repeats": 1 if args.quick else 3,
        "concurrency": args.concurrency,
        "seconds": 0.4 if args.quick else 3.0,
        "max_images": 3 if args.quick else 120,
        "outputs": args.out / "outputs" / "engines",
    }
    prepared = {name: peer_list.prepare(name, args.venvs, install=not args.no_install) for name in wanted}
    for name in ("bare", "engine"):
        if name in prepared:
            prepared[name].env["VIPS_CONCURRENCY"] = str(args.threads)
    for peer in prepared.values():
        if peer.skipped:
            report.say(f"{peer.name} skipped: {peer.skipped}")
    available = {name: peer for name, peer in prepared.items() if not peer.skipped}
    measured: dict[str, dict[str, Any]] = {}
    for name, peer in available.items():
        try:
            measured[name] = (
                thumbor(peer, ops, corpus, plan) if name == "thumbor" else worker_peer(peer, ops, corpus, plan)
            )
        except Exception as error:  # a peer failing does not sink the run
            peer.skipped = f"did not run: {error}"[:300]
    measured = {name: results for name, results in measured.items() if not prepared[name].skipped}
    grid = (1, 400, (50, 90)) if args.quick else (3, scenarios.MATCHED_WIDTH, scenarios.MATCHED_QUALITIES)
    results: dict[str, Any] = {
        "command": " ".join(["vipsfront bench engines", *args.argv]),
        "machine": report.machine(),
        "corpus": {"name": corpus.name, "files": {k: [corpus.key(p) for p in v] for k, v in corpus.files.items()}},
        "settings": {"libvips_threads": args.threads, "concurrency": args.concurrency, "repeats": plan["repeats"]},
        "ops": [{"id": op.id, "label": op.label, "query": op.query()} for op in ops],
        "peers": {n: {"version": p.version, "skipped": p.skipped} for n, p in prepared.items()},
        "results": measured,
        "scores": scores(measured, ops, corpus),
        "ratios": ratios(measured, ops),
        "matched_quality": matched(available, corpus, grid, args.target, plan["outputs"]),
    }
    results["seconds"] = time.perf_counter() - started
    report.write(args.out, "engines", results, markdown(results, ops))
    return 0


def markdown(results: dict[str, Any], ops: tuple[Op, ...]) -> list[str]:
    f = report.number
    names = list(results["results"])
    s = results["settings"]
    lines = report.heading(results, "The engine against bare pyvips and its peers")
    lines += [
        "",
        "Peers: "
        + "; ".join(
            f"{n}: skipped ({v['skipped']})" if v["skipped"] else f"{n}: {v['version'] or '?'}"
            for n, v in results["peers"].items()
        )
        + ".",
        "",
        f"## Latency one image at a time, p50 ms ({s['libvips_threads']} libvips thread(s) for the engine and bare)",
        "",
    ]

    def cell(name: str, op: Op, read: Any) -> str:
        e = results["results"][name].get(op.id, {})
        return "skipped" if "skipped" in e else read(e)

    lines += report.table(
        ["op", *names],
        [[op.label, *(cell(n, op, lambda e: f(e["latency_ms"].get("p50"))) for n in names)] for op in ops],
    )
    lines += ["", f"## Throughput with {s['concurrency']} in flight, images/s (peak RSS MB)", ""]
    lines += report.table(
        ["op", *names],
        [
            [
                op.label,
                *(
                    cell(
                        n, op, lambda e: f"{f((e['throughput'] or {}).get('images_per_s'))} ({f(e['rss_peak_mb'], 0)})"
                    )
                    for n in names
                ),
            ]
            for op in ops
        ],
    )
    others = [n for n in names if n != "engine"]
    lines += ["", "## The engine over each peer (latency p50 ratio; below 1 is faster)", ""]
    r = results["ratios"]
    rows = [[op.label, *(f(r[n]["latency_p50"].get(op.id), 2) for n in others)] for op in ops]
    rows.append(["geomean", *(f(r[n]["geomean_latency_p50"], 2) for n in others)])
    lines += report.table(["op", *(f"engine ÷ {n}" for n in others)], rows)
    lines += ["", "## Bytes and SSIMULACRA2 of each engine's output (mean KB, mean score)", ""]
    lines += report.scores_table(((op.label, results["scores"].get(op.id, {})) for op in ops if op.scored), names)
    mq = results["matched_quality"]
    lines += ["", f"## Bytes at matched quality (photos → {mq['width']}w, mean KB at SSIMULACRA2 {mq['target']:g})", ""]
    rows = []
    for name, formats in mq["engines"].items():
        if "skipped" in formats:
            rows.append([name, "skipped", "", ""])
            continue
        cells = []
        for fmt in scenarios.MATCHED_FORMATS:
            e = formats.get(fmt, {})
            at = e.get("bytes_at_target")
            cells.append("skipped" if "skipped" in e else "out of range" if at is None else f"{at / 1024:.1f}")
        rows.append([name, *cells])
    lines += report.table(["engine", "JPEG", "WebP", "AVIF"], rows)
    lines += ["", "Each peer's default JPEG against the engine's AVIF and WebP at the same SSIMULACRA2 (mean KB):", ""]
    rows = [
        [
            name,
            f"{row['default_jpeg_bytes'] / 1024:.1f}",
            f(row["default_jpeg_ssimulacra2"]),
            f(None if row["engine_avif_bytes"] is None else row["engine_avif_bytes"] / 1024),
            f(None if row["engine_webp_bytes"] is None else row["engine_webp_bytes"] / 1024),
        ]
        for name, row in mq["default_jpeg_vs_engine"].items()
    ]
    lines += report.table(["peer", "default JPEG KB", "its SSIMULACRA2", "engine AVIF KB", "engine WebP KB"], rows)
    return lines
