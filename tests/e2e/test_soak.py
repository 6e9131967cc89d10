"""The soak, short form: `vipsfront serve` under misses and hits for ~30 s; zero errors, RSS levels off.

``VIPSFRONT_SOAK_SECONDS`` lengthens it (``python benchmarks/soak.py --minutes N`` is the long form, and
reports the latencies and throughput; nothing here asserts a speed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SOAK = Path(__file__).resolve().parents[2] / "benchmarks" / "soak.py"


def test_soak_has_no_errors_and_stable_memory() -> None:
    seconds = float(os.environ.get("VIPSFRONT_SOAK_SECONDS", "30"))
    result = subprocess.run(
        [sys.executable, str(SOAK), "--seconds", str(seconds), "--clients", "4", "--json"],
        capture_output=True,
        text=True,
        timeout=seconds + 180,
    )
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["errors"] == 0, summary["error_examples"]
    assert result.returncode == 0, result.stderr[-2000:]
    assert summary["transforms"] > 0 and summary["hits"] > 0  # both paths ran, every answer a 200
    first, second, third, last = summary["rss_quarter_medians_mb"]
    assert last < 1.5 * second, summary["rss_quarter_medians_mb"]  # generous: a leak grows without bound
    assert summary["rss_max_mb"] < 1024
