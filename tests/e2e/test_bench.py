"""``vipsfront bench --quick`` as CI runs it: the files exist and hold sane values. No timing is asserted."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import pyvips

from vipsfront_bench import origins
from vipsfront_bench.scenarios import OPS

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
LOADERS = {"jpeg": "jpegload", "webp": "webpload", "avif": "heifload"}


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    pytest.importorskip("matplotlib")
    pytest.importorskip("psutil")
    out = tmp_path_factory.mktemp("bench")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIPSFRONT_"))}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "vipsfront.cli.main",
            "bench",
            "--quick",
            "--out",
            str(out),
            "--peers",
            "bare,engine,pillow,nosuchpeer",
            "--no-install",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    return out, json.loads((out / "results.json").read_text())


def test_every_output_file_is_written(results: tuple[Path, dict]) -> None:
    out, _ = results
    assert (out / "chart.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    markdown = (out / "results.md").read_text()
    for op in OPS:
        assert op.label in markdown
    assert "## Goals" in markdown


def test_every_scenario_is_present_with_sane_values(results: tuple[Path, dict]) -> None:
    _, data = results
    ids = {op.id for op in OPS}
    assert set(data["origin"]["miss"]) == ids
    assert set(data["origin"]["hit"]) == ids
    assert set(data["sweep"]["ops"]) == ids
    for op_id in ids:
        miss = data["origin"]["miss"][op_id]
        assert miss["latency_ms"]["p50"] > 0 and all(b > 0 for b in miss["bytes"])
        assert miss["rss"]["peak_mb"] > 0
        for name in ("bare", "engine", "pillow"):
            entry = data["peers"][name][op_id]
            assert "skipped" in entry or entry["throughput"]["images_per_s"] > 0
    ratios = data["ratios"]
    for table in ("miss_p50_over_bare_p50", "miss_p50_over_engine_p50", "hit_p50_over_s3_get_p50"):
        assert all(value > 0 for value in ratios[table].values()), table
    for op_id, row in ratios["throughput_c2"].items():
        assert all(value > 0 for value in row["ratios"].values()), op_id
    for op_id, scores in data["quality"].items():
        for name, score in scores.items():
            assert 0.5 < score["ssim_mean"] <= 1.0, (op_id, name)
    assert data["cost"]["ops"]["photo-400-jpeg"]["miss_usd_per_million"]["total"] > 0
    assert data["cold_start"]["process_start_to_first_image_s"]["p50"] > 0


def test_both_vipsfront_origins_run_origin_against_origin(results: tuple[Path, dict]) -> None:
    """The lookup-on origin and the one as deployed (no lookup, stored before answering), every op each."""
    out, data = results
    for name, lookup in (("vipsfront", True), (origins.DEPLOYED, False)):
        row = data["origins"][name]
        assert set(row["ops"]) == {op.id for op in origins.OPS}, row.get("skipped")
        for op in origins.OPS:
            entry = row["ops"][op.id]
            assert entry["miss_ms"]["p50"] > 0 and entry["hit_ms"]["p50"] > 0 and all(b > 0 for b in entry["bytes"])
            steps = set(entry["miss_server_timing_ms"])
            assert ("s3-variant" in steps) is lookup, (name, op.id, steps)
            assert {"s3-read", "transform"} <= steps
            image = pyvips.Image.new_from_file(entry["outputs"][0])
            assert (image.width, image.height if op.height else op.height) == (op.width, op.height), (name, op.id)
            assert image.get("vips-loader") == LOADERS[op.format], (name, op.id)
    deployed = data["ratios"]["deployed_miss_p50_over_engine_p50"]
    assert deployed["photo-400-jpeg"] > 0 and deployed["photo-cover-center"] is None
    markdown = (out / "results.md").read_text()
    assert f"{origins.DEPLOYED}: miss / hit / img/s / RSS" in markdown
    assert f"Miss ÷ engine alone, {origins.DEPLOYED}" in markdown


def test_origins_only_runs_the_origin_against_origin_section_alone(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIPSFRONT_"))}
    command = [sys.executable, "-m", "vipsfront.cli.main", "bench", "--quick", "--origins-only", "--out", str(tmp_path)]
    done = subprocess.run(
        [*command, "--peers", "engine", "--no-install"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads((tmp_path / "results.json").read_text())
    assert "origin" not in data and "sweep" not in data and set(data["peers"]) == {"engine"}
    assert set(data["origins"]) == {"vipsfront", origins.DEPLOYED}
    assert data["ratios"]["deployed_miss_p50_over_engine_p50"]["photo-400-jpeg"] > 0
    markdown = (tmp_path / "results.md").read_text()
    assert "## Origin vs origin, like for like" in markdown and "## Goals" not in markdown
    assert not (tmp_path / "chart.png").exists()


def test_skipped_peers_carry_a_reason(results: tuple[Path, dict]) -> None:
    _, data = results
    versions = data["peer_versions"]
    assert versions["nosuchpeer"]["skipped"]
    for name in ("bare", "engine", "pillow"):
        assert versions[name]["version"] and not versions[name]["skipped"]


def test_without_the_bench_extra_the_command_says_how_to_install_it() -> None:
    block = "import sys; sys.modules['vipsfront_bench'] = None; from vipsfront.cli.main import main; sys.exit(main())"
    done = subprocess.run([sys.executable, "-c", block, "bench", "--quick"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "pip install -e '.[bench]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_runtime_imports_no_benchmark_module() -> None:
    probe = "import sys, vipsfront.cli.main, vipsfront.web.app; print(sorted(m for m in sys.modules if 'bench' in m))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_sigterm_stops_the_servers_the_run_started(tmp_path: Path) -> None:
    """``kill`` on a running bench unwinds it: moto and the origin's tree stop with it, none orphaned."""
    psutil = pytest.importorskip("psutil")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIPSFRONT_"))}
    command = [sys.executable, "-m", "vipsfront.cli.main", "bench", "--quick", "--out", str(tmp_path)]
    bench = subprocess.Popen(
        [*command, "--peers", "bare,engine", "--no-install"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        seen: list[Any] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and bench.poll() is None:  # until the origin's workers run
            seen = psutil.Process(bench.pid).children(recursive=True)
            if any("vipsfront.cli.workers" in " ".join(child.cmdline()) for child in seen if child.is_running()):
                break
            time.sleep(0.2)
        assert bench.poll() is None, "the bench ended before its origin started"
        assert len(seen) >= 3, [child.cmdline() for child in seen]  # moto, the supervisor, its workers
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(timeout=60) == 128 + signal.SIGTERM
        _, alive = psutil.wait_procs(seen, timeout=15)
        assert not alive, [child.cmdline() for child in alive]
        assert b"Traceback" not in bench.stderr.read()  # type: ignore[union-attr]
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
