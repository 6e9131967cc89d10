"""Backfill throughput: originals per second per core over the corpus, on moto's S3 server.

    python benchmarks/backfill_bench.py [--corpus ../shared/corpus] [--workers N] [--eager thumb,card]

Uploads every file of the corpus as an original, runs ``vipsfront.lifecycle.backfill.run`` (the same batch step
the Distributed Map runs per batch) once cold, then once more (every original skipped: the resume
cost), and prints originals/s and originals/s per worker. Bad files in the corpus count as ingested
(rejected with their typed error), as in a real backfill.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from vipsfront.lifecycle import backfill
from vipsfront.config.settings import Settings
from vipsfront.cli.embedded_s3 import LOCAL_CREDENTIALS, ensure_bucket, server_endpoint, start_server, upload
from vipsfront.stores.s3 import s3_client

PRESETS = '{"thumb": {"w": "200", "h": "200", "fm": "auto"}, "card": {"w": "640", "fm": "auto"}}'


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", default=str(Path(__file__).resolve().parents[2] / "shared" / "corpus"))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--eager", default="", help="eager presets (thumb, card), default none")
    args = parser.parse_args()
    corpus = Path(args.corpus)
    files = {p.relative_to(corpus).as_posix(): p.read_bytes() for p in sorted(corpus.rglob("*")) if p.is_file()}
    if not files:
        print(f"no corpus at {corpus}", file=sys.stderr)
        return 2
    for name, value in LOCAL_CREDENTIALS.items():
        os.environ.setdefault(name, value)
    server = start_server(0)
    try:
        env = {
            **os.environ,
            "AWS_ENDPOINT_URL_S3": server_endpoint(server),
            "VIPSFRONT_PRESETS": PRESETS,
            "VIPSFRONT_EAGER_PRESETS": args.eager,
        }
        settings = Settings.from_env(env)
        client = s3_client(settings.s3_endpoint, settings.region or "us-east-1")
        for bucket in (settings.originals_bucket, settings.variants_bucket):
            ensure_bucket(client, bucket)
        upload(client, settings.originals_bucket, files)
        with open(os.devnull, "w") as quiet:
            cold, cold_s = backfill.run(settings, workers=args.workers, stream=quiet)
            warm, warm_s = backfill.run(settings, workers=args.workers, stream=quiet)
        done = sum(r.status.value in ("ingested", "rejected") for r in cold)
        rate = done / cold_s
        megabytes = sum(map(len, files.values())) / 1e6
        print(f"corpus: {len(files)} files, {megabytes:.1f} MB; eager presets: {args.eager or 'none'}")
        print(
            f"cold: {done} originals in {cold_s:.1f} s = {rate:.2f}/s with {args.workers} workers, "
            f"{rate / args.workers:.2f}/s per core"
        )
        print(f"resume: {sum(r.status.value == 'skipped' for r in warm)} skipped in {warm_s:.1f} s")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
