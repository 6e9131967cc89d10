"""Peak RSS of the origin on the 14.7 MP JPEGs (``../shared/corpus/large/*5120x2880.jpg``) at several widths.

``vipsfront serve --workers N`` on moto's S3 with the variant lookup off (every request a transform, as
behind CloudFront's S3-first origin group), ``--clients`` requests in flight; the server's process tree is
sampled with psutil every 20 ms (``vipsfront_bench.services.RssSampler``). One row per width: peak and
end RSS, and images made. ``--env NAME=VALUE`` (repeatable) runs the server with more variables, e.g.
``MALLOC_ARENA_MAX=4`` or ``VIPS_DISC_THRESHOLD=0``, to see what each bound is worth.

What bounds one transform's memory (all on by default): JPEG shrink-on-load (the decode is 1/2, 1/4 or
1/8 of the source where the output allows), sequential access (libvips streams the decode through the
pipeline instead of holding the decoded image), no operation cache (``pyvips.cache_set_max(0)``), and
two glibc malloc arenas per process (``MALLOC_ARENA_MAX=2``, set by ``vipsfront serve`` and the stack).
The peak is then about one transform's working set times the transforms in flight, on top of each
worker's baseline.

``--thumbor`` measures thumbor the same way (like for like with ``vipsfront bench``: ``thumbor --processes
N`` with N = ``--workers``, its file loader on the same files, the same widths in the same order, the same
requests in flight, the whole process tree sampled), from the thumbor venv ``vipsfront bench`` prepares
(``bench-results/.venvs/thumbor``).

Usage: ``python benchmarks/memory_peak.py [--widths 400,800,1200,2400] [--clients 2] [--workers 2]
[--seconds 8] [--env NAME=VALUE ...] [--thumbor] [--json out.json]``. Never used to assert anything.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

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
    return {"clients": clients, "workers": workers, "env": env, "idle_mb": idle, "widths": rows}


def sweep(
    process: Any, base: str, paths: dict[int, list[str]], clients: int, seconds: float
) -> tuple[float, dict[str, Any]]:
    """Idle RSS of ``process``'s tree, then a row per width: its peak and end RSS under ``paths``' load.
    Stops the process."""
    sampler = services.RssSampler(process.pid)
    rows: dict[str, Any] = {}
    try:
        idle = services.tree_rss_mb(process.pid)[0]
        for width, these in paths.items():
            with sampler.window() as rss:
                load = concurrent(base, lambda i, p=these: p[i % len(p)], clients, seconds, 10_000)
            rows[str(width)] = {
                "peak_mb": rss["peak_mb"],
                "end_mb": rss["end_mb"],
                "images": len(load.latency_ms),
                "errors": load.errors,
            }
    finally:
        sampler.close()
        services.stop(process)
    return idle, rows


def measure_thumbor(widths: list[int], clients: int, workers: int, seconds: float, venv: Path) -> dict[str, Any]:
    """thumbor (``--processes workers``) on the same files and widths, sampled the same way."""
    from vipsfront_bench.peers import peers_dir

    files = sorted(LARGE.glob("*5120x2880.jpg"))
    config = peers_dir() / "thumbor" / "thumbor.conf"
    process, base = services.start_thumbor(venv, config, {"VIPSFRONT_BENCH_CORPUS": str(LARGE)}, workers)
    paths = {w: [f"/unsafe/{w}x0/filters:format(jpeg):quality(80)/{f.name}" for f in files] for w in widths}
    idle, rows = sweep(process, base, paths, clients, seconds)
    return {"clients": clients, "workers": workers, "env": {}, "idle_mb": idle, "widths": rows, "server": "thumbor"}


def render(figures: dict[str, Any]) -> str:
    env = " ".join(f"{k}={v}" for k, v in figures["env"].items()) or "defaults"
    server = figures.get("server", "the origin")
    lines = [
        f"Peak RSS of {server}'s process tree, 14.7 MP JPEG -> JPEG, {figures['workers']} processes, "
        f"{figures['clients']} in flight ({env}); idle {figures['idle_mb']:.0f} MB:",
        "",
        "| width | peak MB | end MB | images | errors |",
        "|---|---|---|---|---|",
    ]
    for width, row in figures["widths"].items():
        lines.append(f"| {width} | {row['peak_mb']:.0f} | {row['end_mb']:.0f} | {row['images']} | {row['errors']} |")
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
