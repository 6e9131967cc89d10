"""The command's options, importing nothing heavy: ``vipsfront --help`` must not load the benchmark."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

ALL_PEERS = ("bare", "engine", "pillow", "pillow-simd", "sharp", "thumbor", "thumbor-aws", "aws-sample")
ORIGIN_PEERS = ("thumbor-aws", "aws-sample")  # origins on S3, beside vipsfront's (origins.py)
QUICK_PEERS = ("bare", "engine", "pillow")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--corpus", type=Path, help="folder of images (default: ../shared/corpus, else generated samples)")
    p.add_argument("--out", type=Path, default=Path("bench-results"), help="where results go (default bench-results/)")
    p.add_argument("--quick", action="store_true", help="a few files, few iterations (CI smoke run)")
    p.add_argument(
        "--peers",
        help=f"comma list from {','.join(ALL_PEERS)} (default: all; with --quick {','.join(QUICK_PEERS)})",
    )
    p.add_argument("--no-install", action="store_true", help="skip peers that are not installed yet")
    p.add_argument(
        "--origins-only",
        action="store_true",
        help="only origin against origin (with the engine alone for its miss ÷ engine reading)",
    )
    p.add_argument(
        "--venvs",
        type=Path,
        default=Path("bench-results") / ".venvs",
        help="where peer virtual environments are cached (default bench-results/.venvs)",
    )
    p.add_argument(
        "--workers",
        type=int,
        default=os.cpu_count() or 2,
        help="origin uvicorn workers and thumbor processes (default: one per core)",
    )
    p.add_argument("--peer-concurrency", type=int, default=2, help="requests in flight for peer throughput (2)")
    p.add_argument("--ssim-target", type=float, default=0.95, help="SSIM for bytes at matched quality (0.95)")
    p.add_argument("--lambda-memory-mb", type=int, default=1769, help="cost model: function memory (1769)")
    p.add_argument("--lambda-arch", default="arm64", help="cost model: arm64 or x86_64 (arm64)")
