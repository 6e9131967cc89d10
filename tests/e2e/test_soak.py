"""The soak, short form: ``vipsfront bench soak`` runs `vipsfront serve` under misses and hits for ~30 s;
zero errors, RSS levels off.

``VFTEST_SOAK_SECONDS`` lengthens it (``python -m vipsfront_bench soak --seconds N`` is the long form,
and reports the latencies; nothing here asserts a speed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e


def test_soak_has_no_errors_and_stable_memory(tmp_path: Path) -> None:
    seconds = float(os.environ.get("VFTEST_SOAK_SECONDS", "30"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIPSFRONT_"))}
    command = [sys.executable, "-m", "vipsfront_bench", "soak", "--seconds", str(seconds), "--clients", "4"]
    done = subprocess.run(
        [*command, "--out", str(tmp_path)], env=env, capture_output=True, text=True, timeout=seconds + 180
    )
    summary = json.loads((tmp_path / "soak.json").read_text())
    assert summary["errors"] == 0, summary["error_examples"]
    assert done.returncode == 0, done.stderr[-2000:]
    assert summary["transforms"] > 0 and summary["hits"] > 0  # both paths ran, every answer a 200
    first, second, third, last = summary["rss_quarter_medians_mb"]
    assert last < 1.5 * second, summary["rss_quarter_medians_mb"]  # generous: a leak grows without bound
    assert summary["rss_max_mb"] < 1024
    assert "| window (s) |" in (tmp_path / "soak.md").read_text()
