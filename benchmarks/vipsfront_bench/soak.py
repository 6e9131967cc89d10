"""``vipsfront bench soak``: ``vipsfront serve`` under a mix of misses and hits, RSS and latency over time.

moto's S3 runs in a process of its own (the variants it keeps in memory do not count against the
origin); ``vipsfront serve --seed`` loads generated originals (``images.seed``). Each client thread
loops: a miss (a variant never asked before: a new width, format or crop) or a hit (one of a small
fixed set), all valid requests. The server's RSS (its process tree) is read every half second. Reported:
per-window p50/p99 latency, RSS first/last/max, its slope and quarter medians, and the errors; the
command exits 1 when there was any. ``--seconds 30 --clients 4`` is what ``tests/e2e/test_soak.py`` runs.
"""

from __future__ import annotations

import argparse
import http.client
import random
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vipsfront_bench import images, report, services

HIT_SET = [
    "photos/a.jpg?w=320&fm=webp",
    "photos/b.jpg?w=640&fm=jpeg",
    "alpha.png?w=200&fm=png",
    "anim.gif?w=100&fm=webp",
    "photos/c.webp?w=400&h=400&fit=cover&fm=avif",
]
FORMATS = ["webp", "jpeg", "avif", "png", "auto"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--seconds", type=float, help="how long to run (default 180; --quick 30)")
    parser.add_argument("--clients", type=int, default=4, help="client threads (4)")
    parser.add_argument("--windows", type=int, default=6, help="latency windows to report (6)")


@dataclass
class Sample:
    at: float  # seconds since start
    ms: float
    status: int
    variant: str


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    rss: list[tuple[float, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def client_loop(
    base: str, keys: list[str], run: Run, start: float, until: float, worker: int, counter: list[int]
) -> None:
    rng = random.Random(worker)
    host, port = base.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=60)
    while time.monotonic() < until:
        if rng.random() < 0.3:
            path = rng.choice(HIT_SET)
        else:
            with run.lock:
                counter[0] += 1
                n = counter[0]
            # A variant never asked before: (source, format, width, quality) is unique for 1.5 million
            # requests; widths come in a scrambled order so that no window gets only small or large ones.
            block = n // (len(keys) * len(FORMATS))
            width = 16 + (block * 389) % 1000
            quality = 50 + (block // 1000) % 50
            extra = f"&h={width // 2 + 8}&fit=cover" if n % 3 == 0 else ""
            fm = FORMATS[(n // len(keys)) % len(FORMATS)]
            path = f"{keys[n % len(keys)]}?w={width}{extra}&fm={fm}&q={quality}"
        started = time.monotonic()
        try:
            conn.request("GET", "/" + path, headers={"Accept": "image/avif,image/webp,*/*"})
            response = conn.getresponse()
            response.read()
            status, variant = response.status, response.getheader("x-vipsfront-variant") or ""
        except (OSError, http.client.HTTPException) as error:
            status, variant = 0, ""
            conn.close()
            conn = http.client.HTTPConnection(host, int(port), timeout=60)
            with run.lock:
                run.errors.append(f"{path}: {error!r}")
        with run.lock:
            run.samples.append(Sample(started - start, (time.monotonic() - started) * 1000, status, variant))
            if status not in (0, 200):
                run.errors.append(f"{path}: HTTP {status}")
    conn.close()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def slope_mb_per_min(points: list[tuple[float, float]]) -> float:
    if len(points) < 2:
        return 0.0
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    var = sum((x - mx) ** 2 for x in xs)
    return 0.0 if var == 0 else sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / var * 60


def summarise(run: Run, seconds: float, clients: int, windows: int) -> dict[str, Any]:
    rss = [mb for _, mb in run.rss]
    quarter = max(1, len(rss) // 4)
    quarters = [rss[i * quarter : (i + 1) * quarter] or rss[-1:] for i in range(4)]
    width = seconds / windows

    def latencies(samples: list[Sample], variant: str) -> list[float]:
        return [s.ms for s in samples if s.variant == variant]

    table = []
    for i in range(windows):
        inside = [s for s in run.samples if i * width <= s.at < (i + 1) * width]
        rss_in = [mb for at, mb in run.rss if i * width <= at < (i + 1) * width]
        table.append(
            {
                "window_s": f"{i * width:.0f}-{(i + 1) * width:.0f}",
                "requests": len(inside),
                "miss_p50_ms": round(percentile(latencies(inside, "miss"), 0.5), 1),
                "miss_p99_ms": round(percentile(latencies(inside, "miss"), 0.99), 1),
                "hit_p50_ms": round(percentile(latencies(inside, "hit"), 0.5), 1),
                "hit_p99_ms": round(percentile(latencies(inside, "hit"), 0.99), 1),
                "rss_mb": round(max(rss_in), 1) if rss_in else None,
            }
        )
    return {
        "load_seconds": round(seconds, 1),
        "clients": clients,
        "requests": len(run.samples),
        "transforms": len(latencies(run.samples, "miss")),
        "hits": len(latencies(run.samples, "hit")),
        "errors": len(run.errors),
        "error_examples": run.errors[:5],
        "rss_first_mb": round(rss[0], 1) if rss else None,
        "rss_last_mb": round(rss[-1], 1) if rss else None,
        "rss_max_mb": round(max(rss), 1) if rss else None,
        "rss_quarter_medians_mb": [round(statistics.median(q), 1) for q in quarters] if rss else [],
        "rss_slope_mb_per_min": round(slope_mb_per_min(run.rss), 2),
        "rss_slope_second_half_mb_per_min": round(slope_mb_per_min(run.rss[len(run.rss) // 2 :]), 2),
        "miss_p50_ms": round(percentile(latencies(run.samples, "miss"), 0.5), 1),
        "miss_p99_ms": round(percentile(latencies(run.samples, "miss"), 0.99), 1),
        "hit_p50_ms": round(percentile(latencies(run.samples, "hit"), 0.5), 1),
        "hit_p99_ms": round(percentile(latencies(run.samples, "hit"), 0.99), 1),
        "windows": table,
    }


def soak(seconds: float, clients: int, windows: int, out: Path, warmup_s: float = 3.0) -> dict[str, Any]:
    """A warm-up of ``warmup_s``, then ``seconds`` of load from ``clients`` threads; the summary."""
    with tempfile.TemporaryDirectory() as tmp, services.S3Server(log=out / "moto.log") as s3:
        keys = images.seed(Path(tmp))
        process, base = services.start_serve(services.clean_env(AWS_ENDPOINT_URL_S3=s3.endpoint), "--seed", tmp)
        try:
            warm, run, counter = Run(), Run(), [0]  # the warm-up lets imports and pools settle
            for target, duration in ((warm, warmup_s), (run, seconds)):
                start = time.monotonic()
                threads = [
                    threading.Thread(target=client_loop, args=(base, keys, target, start, start + duration, i, counter))
                    for i in range(clients)
                ]
                for thread in threads:
                    thread.start()
                while any(thread.is_alive() for thread in threads):
                    target.rss.append((time.monotonic() - start, services.tree_rss_mb(process.pid)))
                    time.sleep(0.5)
                for thread in threads:
                    thread.join()
        finally:
            services.stop(process)
    summary = summarise(run, seconds, clients, windows)
    summary["warmup_errors"] = len(warm.errors)
    summary["errors"] += len(warm.errors)
    return summary


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    seconds = args.seconds or (30.0 if args.quick else 180.0)
    if not 1 <= seconds <= 3600 or not 1 <= args.clients <= 64:
        raise SystemExit("vipsfront bench soak: run 1 s to 60 min with 1 to 64 clients")
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {
        "command": " ".join(["vipsfront bench soak", *args.argv]),
        "machine": report.machine(),
        **soak(seconds, args.clients, args.windows, args.out),
    }
    results["seconds"] = time.perf_counter() - started
    report.write(args.out, "soak", results, markdown(results))
    return 1 if results["errors"] else 0


def markdown(s: dict[str, Any]) -> list[str]:
    lines = report.heading(s, "Soak: `vipsfront serve` under misses and hits")
    lines += [
        "",
        f"{s['requests']} requests from {s['clients']} clients: {s['transforms']} transforms (misses), "
        f"{s['hits']} hits, {s['errors']} errors. Server RSS: first {s['rss_first_mb']} MB, last "
        f"{s['rss_last_mb']} MB, max {s['rss_max_mb']} MB; quarter medians {s['rss_quarter_medians_mb']} MB; "
        f"slope {s['rss_slope_mb_per_min']} MB/min (second half {s['rss_slope_second_half_mb_per_min']}).",
        "",
    ]
    lines += report.table(
        ["window (s)", "requests", "miss p50 ms", "miss p99 ms", "hit p50 ms", "hit p99 ms", "RSS MB"],
        [
            [
                w["window_s"],
                str(w["requests"]),
                *(str(w[k]) for k in ("miss_p50_ms", "miss_p99_ms", "hit_p50_ms", "hit_p99_ms", "rss_mb")),
            ]
            for w in s["windows"]
        ],
    )
    return lines
