"""Peak RSS and PSS of the origin on the 14.7 MP JPEGs (``../shared/corpus/large/*5120x2880.jpg``) at several widths.

``vipsfront serve --workers N`` on moto's S3 with the variant lookup off (every request a transform, as
behind CloudFront's S3-first origin group), ``--clients`` requests in flight. The server's process tree is
sampled every 20 ms from ``/proc/PID/smaps_rollup``: the sum of every process's RSS (what ``vipsfront
bench`` reports: a page shared by two processes, such as a library's code, counts twice) and the sum of
their PSS (each shared page divided among the processes that map it: the tree's real footprint), with the
per-process split at the RSS peak. One row per width: peak RSS, peak PSS, RSS at the end of the load and
1 s later (settled: what the requests left behind, the heap's fragmentation among it), images made and
per second. ``--env
NAME=VALUE`` (repeatable) runs the server with more variables, e.g. ``MALLOC_ARENA_MAX=4`` or
``VIPS_DISC_THRESHOLD=0``, to see what each bound is worth.

What bounds one transform's memory (all on by default): JPEG shrink-on-load (the decode is 1/2, 1/4 or
1/8 of the source where the output allows), sequential access (libvips streams the decode through the
pipeline instead of holding the decoded image), no operation cache (``pyvips.cache_set_max(0)``), and
two glibc malloc arenas per process (``MALLOC_ARENA_MAX=2``, set by ``vipsfront serve`` and the stack).
A progressive JPEG is the exception libjpeg imposes: it holds every DCT coefficient of the full-size
image while it decodes, whatever the shrink (88 MB for a 14.7 MP 4:4:4 one). The peak is then about one
transform's working set times the transforms in flight, on top of each worker's baseline.

``--thumbor`` measures thumbor the same way (like for like with ``vipsfront bench``: ``thumbor --processes
N`` with N = ``--workers``, its file loader on the same files, the same widths in the same order, the same
requests in flight, the whole process tree sampled), from the thumbor venv ``vipsfront bench`` prepares
(``bench-results/.venvs/thumbor``). A thumbor process transforms one image at a time: when it holds both
connections of 2 clients (as it often does), one transform is in flight, not 2, and the peak is one
transform's (the origin's tree-wide transform slots run 2 at once on 2 cores).

Usage: ``python benchmarks/memory_peak.py [--widths 400,800,1200,2400] [--clients 2] [--workers 2]
[--seconds 8] [--env NAME=VALUE ...] [--thumbor] [--json out.json]``. Never used to assert anything.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
try:
    import vipsfront  # noqa: F401
except ImportError:  # running from a checkout without an install
    sys.path.insert(0, str(ROOT / "shared"))

from vipsfront_bench import services  # noqa: E402
from vipsfront_bench.load import concurrent  # noqa: E402

LARGE = ROOT.parent / "shared" / "corpus" / "large"  # ../shared/corpus/large from the repository
ORIGINALS, VARIANTS = "vipsfront-originals", "vipsfront-variants"
SETTLE_S = 1.0  # after a width's load, before the tree's settled RSS is read


def measure(widths: list[int], clients: int, workers: int, seconds: float, env: dict[str, str]) -> dict[str, Any]:
    files = sorted(LARGE.glob("*5120x2880.jpg"))
    if not files:
        raise SystemExit("no ../shared/corpus/large/*5120x2880.jpg: the corpus is needed")
    with services.S3Server() as s3:
        client = s3.client()
        for bucket in (ORIGINALS, VARIANTS):
            client.create_bucket(Bucket=bucket)
        keys = []
        for path in files:
            key = f"large/{path.name}"
            client.put_object(Bucket=ORIGINALS, Key=key, Body=path.read_bytes(), ContentType="image/jpeg")
            keys.append(key)
        settings = {"VIPSFRONT_VARIANT_LOOKUP": "0", **env}
        process, base, _ = services.start_origin(s3.endpoint, workers, settings)
        paths = {w: [f"/{key}?w={w}&fm=jpeg" for key in keys] for w in widths}
        idle, rows = sweep(process, base, paths, clients, seconds)
    return {"clients": clients, "workers": workers, "env": env, "idle": idle, "widths": rows}


def smaps(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of one process in MB, from ``/proc/PID/smaps_rollup``."""
    rss = pss = 0
    with open(f"/proc/{pid}/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Rss:"):
                rss = int(line.split()[1])
            elif line.startswith("Pss:"):
                pss = int(line.split()[1])
    return rss / 1024, pss / 1024


def role(process: psutil.Process, root: int) -> str:
    """What a process of the server's tree is: the supervisor (the root), a worker, the resource tracker."""
    if process.pid == root:
        return "supervisor"
    command = " ".join(process.cmdline())
    return "resource tracker" if "resource_tracker" in command else "worker"


def tree(pid: int) -> services.Reading:
    """(role, RSS MB, PSS MB) of ``pid`` and each of its descendants."""
    rows = []
    for process in services.tree_processes(pid):
        try:
            rows.append((role(process, pid), *smaps(process.pid)))
        except (OSError, psutil.Error):
            pass  # exited between the listing and the read
    return rows


def split(rows: services.Reading) -> str:
    """``supervisor 22/13, worker 250/231, ...`` (RSS/PSS MB each)."""
    return ", ".join(f"{name} {rss:.0f}/{pss:.0f}" for name, rss, pss in rows)


def sweep(
    process: Any, base: str, paths: dict[int, list[str]], clients: int, seconds: float
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The tree at rest (RSS, PSS, per process), then a row per width: its peaks and end RSS under
    ``paths``' load. Stops the process."""
    time.sleep(1.0)  # the workers' start-up garbage settles
    rows = tree(process.pid)
    idle = {"rss_mb": sum(r[1] for r in rows), "pss_mb": sum(r[2] for r in rows), "processes": split(rows)}
    sampler = services.RssSampler(process.pid, read=tree)
    widths: dict[str, Any] = {}
    try:
        for width, these in paths.items():
            with sampler.window() as memory:
                load = concurrent(base, lambda i, p=these: p[i % len(p)], clients, seconds, 10_000)
            at_peak, peak_pss = sampler.last_window
            time.sleep(SETTLE_S)  # the last stores and heap trims end
            settled = sum(r[1] for r in tree(process.pid))
            widths[str(width)] = {
                "peak_mb": memory["peak_mb"],
                "peak_pss_mb": peak_pss,
                "end_mb": memory["end_mb"],
                "at_peak": split(at_peak),
                "settled_mb": settled,
                "images": len(load.latency_ms),
                "images_per_s": len(load.latency_ms) / load.seconds if load.seconds else 0.0,
                "errors": load.errors,
            }
    finally:
        sampler.close()
        services.stop(process)
    return idle, widths


def measure_thumbor(widths: list[int], clients: int, workers: int, seconds: float, venv: Path) -> dict[str, Any]:
    """thumbor (``--processes workers``) on the same files and widths, sampled the same way."""
    from vipsfront_bench.peers import peers_dir

    files = sorted(LARGE.glob("*5120x2880.jpg"))
    config = peers_dir() / "thumbor" / "thumbor.conf"
    process, base = services.start_thumbor(venv, config, {"VIPSFRONT_BENCH_CORPUS": str(LARGE)}, workers)
    paths = {w: [f"/unsafe/{w}x0/filters:format(jpeg):quality(80)/{f.name}" for f in files] for w in widths}
    idle, rows = sweep(process, base, paths, clients, seconds)
    return {"clients": clients, "workers": workers, "env": {}, "idle": idle, "widths": rows, "server": "thumbor"}


def render(figures: dict[str, Any]) -> str:
    env = " ".join(f"{k}={v}" for k, v in figures["env"].items()) or "defaults"
    server = figures.get("server", "the origin")
    idle = figures["idle"]
    lines = [
        f"Memory of {server}'s process tree, 14.7 MP JPEG -> JPEG, {figures['workers']} processes, "
        f"{figures['clients']} in flight ({env}); at rest RSS {idle['rss_mb']:.0f} MB, PSS {idle['pss_mb']:.0f} MB "
        f"({idle['processes']}; RSS/PSS MB each):",
        "",
        "| width | peak RSS MB | peak PSS MB | end RSS MB | settled RSS MB | images | images/s | errors "
        "| at the RSS peak (RSS/PSS MB) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for width, row in figures["widths"].items():
        lines.append(
            f"| {width} | {row['peak_mb']:.0f} | {row['peak_pss_mb']:.0f} | {row['end_mb']:.0f} "
            f"| {row['settled_mb']:.0f} | {row['images']} | {row['images_per_s']:.2f} | {row['errors']} "
            f"| {row['at_peak']} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--widths", default="400,800,1200,2400")
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE for the server")
    parser.add_argument("--thumbor", action="store_true", help="measure thumbor the same way too")
    parser.add_argument("--thumbor-venv", type=Path, default=ROOT / "bench-results" / ".venvs" / "thumbor")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    env = dict(item.split("=", 1) for item in args.env)
    widths = [int(w) for w in args.widths.split(",")]
    figures = measure(widths, args.clients, args.workers, args.seconds, env)
    print(render(figures))
    if args.thumbor:
        figures = {
            "origin": figures,
            "thumbor": measure_thumbor(widths, args.clients, args.workers, args.seconds, args.thumbor_venv),
        }
        print()
        print(render(figures["thumbor"]))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
