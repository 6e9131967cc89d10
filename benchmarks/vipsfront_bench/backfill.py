"""``vipsfront bench backfill``: originals per second of the backfill over the corpus, on moto's S3.

Every file of the corpus is uploaded as an original; ``vipsfront.lifecycle.backfill.run`` (the batch
step the Distributed Map runs per batch) goes over them once cold, then once more (every original
skipped: the cost of resuming). Bad files count as done (rejected with their typed error), as in a real
backfill. ``--eager`` names presets made for each original on the way.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

from vipsfront.config.settings import Settings
from vipsfront.lifecycle import backfill
from vipsfront_bench import report, services
from vipsfront_bench.corpus import DEFAULT_CORPUS

PRESETS = '{"thumb": {"w": "200", "h": "200", "fm": "auto"}, "card": {"w": "640", "fm": "auto"}}'


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS, help="folder of images (../shared/corpus)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (one per core)")
    parser.add_argument("--eager", default="", help="eager presets to make for each original: thumb, card")


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    paths = sorted(p for p in args.corpus.rglob("*") if p.is_file() and not p.name.startswith("."))
    if args.quick:
        paths = paths[:4]
    files = {p.relative_to(args.corpus).as_posix(): p.read_bytes() for p in paths}
    if not files:
        raise SystemExit(f"vipsfront bench backfill: no files in {args.corpus}")
    with services.S3Server(log=args.out / "moto.log") as s3:
        env = services.clean_env(AWS_ENDPOINT_URL_S3=s3.endpoint, VIPSFRONT_PRESETS=PRESETS)
        env["VIPSFRONT_EAGER_PRESETS"] = args.eager
        settings = Settings.from_env(env)
        client = s3.client()
        for bucket in (settings.originals_bucket, settings.variants_bucket):
            client.create_bucket(Bucket=bucket)
        for key, data in files.items():
            client.put_object(Bucket=settings.originals_bucket, Key=key, Body=data)
        with open(os.devnull, "w") as quiet:
            cold, cold_s = backfill.run(settings, workers=args.workers, stream=quiet)
            warm, warm_s = backfill.run(settings, workers=args.workers, stream=quiet)
    done = sum(r.status.value in ("ingested", "rejected") for r in cold)
    results: dict[str, Any] = {
        "command": " ".join(["vipsfront bench backfill", *args.argv]),
        "machine": report.machine(),
        "corpus": {"name": str(args.corpus), "files": len(files), "megabytes": sum(map(len, files.values())) / 1e6},
        "workers": args.workers,
        "eager_presets": args.eager or None,
        "cold": {
            "originals": done,
            "seconds": cold_s,
            "per_s": done / cold_s,
            "per_s_per_worker": done / cold_s / args.workers,
        },
        "resume": {"skipped": sum(r.status.value == "skipped" for r in warm), "seconds": warm_s},
        "statuses": {
            status: sum(r.status.value == status for r in cold) for status in sorted({r.status.value for r in cold})
        },
    }
    results["seconds"] = time.perf_counter() - started
    report.write(args.out, "backfill", results, markdown(results))
    return 0


def markdown(r: dict[str, Any]) -> list[str]:
    f = report.number
    lines = report.heading(r, "Backfill rate")
    lines += [
        "",
        f"{r['corpus']['files']} files ({r['corpus']['megabytes']:.1f} MB) from `{r['corpus']['name']}`, "
        f"{r['workers']} worker processes, eager presets: {r['eager_presets'] or 'none'}.",
        "",
    ]
    lines += report.table(
        ["pass", "originals", "seconds", "originals/s", "per worker"],
        [
            [
                "cold",
                str(r["cold"]["originals"]),
                f(r["cold"]["seconds"]),
                f(r["cold"]["per_s"], 2),
                f(r["cold"]["per_s_per_worker"], 2),
            ],
            ["resume (all skipped)", str(r["resume"]["skipped"]), f(r["resume"]["seconds"]), "", ""],
        ],
    )
    return lines
