"""Soak test: `vipsfront serve` on 127.0.0.1 under a mix of misses and hits, with RSS and latency over time.

    python benchmarks/soak.py --minutes 5 --clients 8      # the long form
    python benchmarks/soak.py --seconds 30 --clients 4     # what tests/e2e/test_soak.py runs

It starts moto's S3 server in its own process (``vipsfront.cli.embedded_s3``, so the variants S3 keeps in memory
do not count against the origin), then `vipsfront serve` against it, seeded with generated images (JPEG
photos, a PNG with alpha, a WebP, an animated GIF, from ``tests/helpers.py``). Each client thread loops: a
miss (a variant never asked before: a new width, format or crop) or a hit (one of a small fixed set), all
valid requests. The server process's RSS is read from /proc every half second. It prints per-window p50/p99
latency, RSS first/last/max, the RSS slope and quarter medians, and the error count; ``--json`` prints the
same as one JSON object.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vipsfront.cli.embedded_s3 import LOCAL_CREDENTIALS, ServerProcess, free_port

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))  # helpers.py: the photo generator

HIT_SET = [
    "photos/a.jpg?w=320&fm=webp",
    "photos/b.jpg?w=640&fm=jpeg",
    "alpha.png?w=200&fm=png",
    "anim.gif?w=100&fm=webp",
    "photos/c.webp?w=400&h=400&fit=cover&fm=avif",
]
SOURCES = ["photos/a.jpg", "photos/b.jpg", "photos/c.webp", "alpha.png", "anim.gif", "photos/d.jpg"]
FORMATS = ["webp", "jpeg", "avif", "png", "auto"]


def seed(directory: Path) -> None:
    import pyvips
    from helpers import photo  # tests/helpers.py: the tests' photo-like originals

    (directory / "photos").mkdir(parents=True, exist_ok=True)
    photo(1600, 1200).jpegsave(str(directory / "photos/a.jpg"), Q=88)
    photo(2400, 1600).jpegsave(str(directory / "photos/b.jpg"), Q=88)
    photo(1200, 800).webpsave(str(directory / "photos/c.webp"), Q=85)
    photo(800, 600).jpegsave(str(directory / "photos/d.jpg"), Q=88)
    alpha = photo(1000, 1000).bandjoin(pyvips.Image.xyz(1000, 1000)[0] * 255 / 1000).cast("uchar")
    alpha.pngsave(str(directory / "alpha.png"))
    frames = [photo(200, 200).rot("d90" if i % 2 else "d0") for i in range(10)]
    strip = pyvips.Image.arrayjoin(frames, across=1).copy()
    strip.set_type(pyvips.GValue.gint_type, "page-height", 200)
    strip.set_type(pyvips.GValue.array_int_type, "delay", [80] * 10)
    strip.gifsave(str(directory / "anim.gif"))


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def wait_for(url_host: str, port: int, path: str, timeout: float, process: subprocess.Popen[Any]) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{process.args!r} exited early")
        try:
            conn = http.client.HTTPConnection(url_host, port, timeout=2)
            conn.request("GET", path)
            conn.getresponse().read()
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answered on {url_host}:{port}{path} within {timeout} s")


@dataclass
class Sample:
    at: float  # seconds since start
    ms: float
    kind: str  # miss or hit
    status: int
    variant: str


@dataclass
class Run:
    samples: list[Sample] = field(default_factory=list)
    rss: list[tuple[float, float]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def client_loop(port: int, run: Run, start: float, until: float, worker: int, counter: list[int]) -> None:
    rng = random.Random(worker)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while time.monotonic() < until:
        if rng.random() < 0.3:
            kind, path = "hit", rng.choice(HIT_SET)
        else:
            with run.lock:
                counter[0] += 1
                n = counter[0]
            # A variant never asked before: (source, format, width, quality) is unique for 1.5 million
            # requests; widths come in a scrambled order so that no window gets only small or large ones.
            block = n // (len(SOURCES) * len(FORMATS))
            source = SOURCES[n % len(SOURCES)]
            fm = FORMATS[(n // len(SOURCES)) % len(FORMATS)]
            width = 16 + (block * 389) % 1000
            quality = 50 + (block // 1000) % 50
            extra = f"&h={width // 2 + 8}&fit=cover" if n % 3 == 0 else ""
            kind, path = "miss", f"{source}?w={width}{extra}&fm={fm}&q={quality}"
        started = time.monotonic()
        try:
            conn.request("GET", "/" + path, headers={"Accept": "image/avif,image/webp,*/*"})
            response = conn.getresponse()
            response.read()
            status = response.status
            variant = response.getheader("x-vipsfront-variant") or ""
        except (OSError, http.client.HTTPException) as error:
            status, variant = 0, ""
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            with run.lock:
                run.errors.append(f"{path}: {error!r}")
        ms = (time.monotonic() - started) * 1000
        with run.lock:
            run.samples.append(Sample(started - start, ms, kind, status, variant))
            if status != 200 and status != 0:
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
    rss_values = [mb for _, mb in run.rss]
    quarter = max(1, len(rss_values) // 4)
    quarters = [rss_values[i * quarter : (i + 1) * quarter] or rss_values[-1:] for i in range(4)]
    width = seconds / windows
    table = []
    for i in range(windows):
        inside = [s for s in run.samples if i * width <= s.at < (i + 1) * width]
        misses = [s.ms for s in inside if s.variant == "miss"]
        hits = [s.ms for s in inside if s.variant == "hit"]
        rss_in = [mb for at, mb in run.rss if i * width <= at < (i + 1) * width]
        table.append(
            {
                "window_s": f"{i * width:.0f}-{(i + 1) * width:.0f}",
                "requests": len(inside),
                "miss_p50_ms": round(percentile(misses, 0.5), 1),
                "miss_p99_ms": round(percentile(misses, 0.99), 1),
                "hit_p50_ms": round(percentile(hits, 0.5), 1),
                "hit_p99_ms": round(percentile(hits, 0.99), 1),
                "rss_mb": round(max(rss_in), 1) if rss_in else None,
            }
        )
    return {
        "seconds": round(seconds, 1),
        "clients": clients,
        "requests": len(run.samples),
        "transforms": sum(1 for s in run.samples if s.variant == "miss"),
        "hits": sum(1 for s in run.samples if s.variant == "hit"),
        "errors": len(run.errors),
        "error_examples": run.errors[:5],
        "rss_first_mb": round(rss_values[0], 1) if rss_values else None,
        "rss_last_mb": round(rss_values[-1], 1) if rss_values else None,
        "rss_max_mb": round(max(rss_values), 1) if rss_values else None,
        "rss_quarter_medians_mb": [round(statistics.median(q), 1) for q in quarters] if rss_values else [],
        "rss_slope_mb_per_min": round(slope_mb_per_min(run.rss), 2),
        "rss_slope_second_half_mb_per_min": round(slope_mb_per_min(run.rss[len(run.rss) // 2 :]), 2),
        "miss_p50_ms": round(percentile([s.ms for s in run.samples if s.variant == "miss"], 0.5), 1),
        "miss_p99_ms": round(percentile([s.ms for s in run.samples if s.variant == "miss"], 0.99), 1),
        "hit_p50_ms": round(percentile([s.ms for s in run.samples if s.variant == "hit"], 0.5), 1),
        "hit_p99_ms": round(percentile([s.ms for s in run.samples if s.variant == "hit"], 0.99), 1),
        "windows": table,
    }


def soak(seconds: float, clients: int, windows: int = 6, warmup_s: float = 3.0) -> dict[str, Any]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIPSFRONT_"))}
    env.update(LOCAL_CREDENTIALS)
    port = free_port()
    processes: list[subprocess.Popen[Any]] = []
    with tempfile.TemporaryDirectory() as tmp, ServerProcess(env) as s3:
        seed(Path(tmp))
        try:
            env["AWS_ENDPOINT_URL_S3"] = s3.endpoint
            server = subprocess.Popen(
                [sys.executable, "-m", "vipsfront.cli.main", "serve", "--port", str(port), "--seed", tmp]
                + ["--log-level", "warning"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            processes.append(server)
            wait_for("127.0.0.1", port, "/_vf/health", 60, server)

            warm = Run()  # a few seconds of the same load first, so import-time and pool growth settle
            run = Run()
            counter = [0]
            for target, duration in ((warm, warmup_s), (run, seconds)):
                start = time.monotonic()
                until = start + duration
                threads = [
                    threading.Thread(target=client_loop, args=(port, target, start, until, i, counter))
                    for i in range(clients)
                ]
                for thread in threads:
                    thread.start()
                while any(thread.is_alive() for thread in threads):
                    target.rss.append((time.monotonic() - start, rss_mb(server.pid)))
                    time.sleep(0.5)
                for thread in threads:
                    thread.join()
            summary = summarise(run, seconds, clients, windows)
            summary["warmup_errors"] = len(warm.errors)
            summary["errors"] += len(warm.errors)
        finally:
            for process in reversed(processes):
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)
                    try:
                        process.wait(timeout=15)
                    except subprocess.TimeoutExpired:
                        process.kill()
            stderr = processes[-1].stderr.read() if len(processes) > 1 and processes[-1].stderr else ""
    if "Traceback" in stderr:
        summary["server_tracebacks"] = stderr.count("Traceback")
        summary["errors"] += summary["server_tracebacks"]
    return summary


def markdown(summary: dict[str, Any]) -> str:
    lines = [
        f"{summary['requests']} requests in {summary['seconds']} s from {summary['clients']} clients: "
        f"{summary['transforms']} transforms (misses), {summary['hits']} hits, {summary['errors']} errors.",
        f"Server RSS: first {summary['rss_first_mb']} MB, last {summary['rss_last_mb']} MB, max "
        f"{summary['rss_max_mb']} MB; quarter medians {summary['rss_quarter_medians_mb']} MB; slope "
        f"{summary['rss_slope_mb_per_min']} MB/min (second half {summary['rss_slope_second_half_mb_per_min']}).",
        "",
        "| window (s) | requests | miss p50 (ms) | miss p99 (ms) | hit p50 (ms) | hit p99 (ms) | RSS (MB) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for w in summary["windows"]:
        lines.append(
            f"| {w['window_s']} | {w['requests']} | {w['miss_p50_ms']} | {w['miss_p99_ms']} | {w['hit_p50_ms']}"
            f" | {w['hit_p99_ms']} | {w['rss_mb']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--minutes", type=float, help="how long to run (default 3)")
    length.add_argument("--seconds", type=float)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--windows", type=int, default=6, help="latency windows to report")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)
    seconds = args.seconds or (args.minutes or 3) * 60
    if not 1 <= seconds <= 3600 or not 1 <= args.clients <= 64:
        parser.error("run 1 s to 60 min with 1 to 64 clients")
    summary = soak(seconds, args.clients, args.windows)
    print(json.dumps(summary) if args.json else markdown(summary))
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
