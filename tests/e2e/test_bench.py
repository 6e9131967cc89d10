"""``vipsfront bench`` as CI runs it: each subcommand's ``--quick`` smoke run writes its JSON and Markdown
with the expected rows, and its outputs decode. No timing is asserted."""

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

from vipsfront_bench.scenarios import OPS, QUICK_OPS

pytestmark = pytest.mark.e2e
ROOT = Path(__file__).resolve().parents[2]
LOADERS = {"jpeg": "jpegload", "webp": "webpload", "avif": "heifload"}
QUICK = [op for op in OPS if op.id in QUICK_OPS]


def bench(out: Path, *args: str, through_cli: bool = False) -> tuple[dict[str, Any], str]:
    """Run one subcommand into ``out``; its JSON results and its Markdown."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIPSFRONT_"))}
    entry = ["vipsfront.cli.main", "bench"] if through_cli else ["vipsfront_bench"]
    done = subprocess.run(
        [sys.executable, "-m", *entry, args[0], "--quick", "--out", str(out), *args[1:]],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "Traceback" not in done.stderr
    return json.loads((out / f"{args[0]}.json").read_text()), (out / f"{args[0]}.md").read_text()


def decodes_as(path: str, width: int, fmt: str) -> None:
    image = pyvips.Image.new_from_file(path)
    assert image.width == width
    assert image.get("vips-loader") == LOADERS[fmt]


def test_lambda_measures_one_instance_of_the_deployed_handler(tmp_path: Path) -> None:
    pytest.importorskip("mangum")
    data, markdown = bench(tmp_path, "lambda", through_cli=True)
    cold = data["cold_start"]
    assert cold["import_s"] > 0 and cold["first_request_s"] > 0
    assert set(data["misses"]) == set(QUICK_OPS)
    for op in QUICK:
        row = data["misses"][op.id]
        assert row["miss_ms"]["p50"] > 0 and row["engine_ms"]["p50"] > 0
        assert {"s3-read", "transform", "s3-write"} <= set(row["server_timing_ms"])
        assert "s3-variant" not in row["server_timing_ms"]  # as deployed: no variant lookup
        assert row["rss_peak_mb"] > 0 and row["usd_per_million"]["lambda_compute"] > 0
        for path in row["outputs"]:
            decodes_as(path, op.width, op.format)
        assert op.label in markdown
    assert "## Cold start" in markdown and "## Misses, one at a time" in markdown


def test_engines_run_side_by_side_and_a_missing_peer_carries_a_reason(tmp_path: Path) -> None:
    data, markdown = bench(tmp_path, "engines", "--peers", "bare,engine,pillow,nosuchpeer", "--no-install")
    assert data["peers"]["nosuchpeer"]["skipped"]
    for name in ("bare", "engine", "pillow"):
        assert data["peers"][name]["version"] and not data["peers"][name]["skipped"]
        for op in QUICK:
            entry = data["results"][name][op.id]
            assert entry["latency_ms"]["p50"] > 0 and entry["throughput"]["images_per_s"] > 0
            for path in entry["outputs"]:
                decodes_as(path, op.width, op.format)
            assert 0 < data["scores"][op.id][name]["ssimulacra2_mean"] <= 100
    assert data["ratios"]["bare"]["latency_p50"]["photo-400-jpeg"] > 0
    assert data["matched_quality"]["engines"]["engine"]["webp"]["points"]
    for heading in ("## Latency one image at a time", "## Throughput", "## Bytes at matched quality"):
        assert heading in markdown


def test_stages_time_every_stage_of_the_engine(tmp_path: Path) -> None:
    data, markdown = bench(tmp_path, "stages", "--reps", "1")
    for op in QUICK:
        cpu = data["cpu_ms"][op.id]
        names = ("probe", "plan", "decode", "resize", "steps", "encode", "pipeline", "transform")
        assert set(cpu) == set(names) and all(cpu[name] > 0 for name in names)
        assert op.label in markdown


def test_origins_run_the_deployed_handler_and_skip_a_peer_that_is_not_installed(tmp_path: Path) -> None:
    pytest.importorskip("mangum")
    data, markdown = bench(
        tmp_path, "origins", "--origins", "vipsfront,thumbor-aws", "--no-install", "--venvs", str(tmp_path / "venvs")
    )
    assert data["origins"]["thumbor-aws"]["skipped"]
    ours = data["origins"]["vipsfront"]["ops"]
    for op in QUICK:
        entry = ours[op.id]
        assert entry["miss_ms"]["p50"] > 0 and entry["hit_ms"]["p50"] > 0
        assert "s3-variant" not in entry["miss_server_timing_ms"]
        for path in entry["outputs"]:
            decodes_as(path, op.width, op.format)
    assert "vipsfront: miss / hit / RSS" in markdown


def test_backfill_reports_its_rate(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    from vipsfront_bench.images import photo_jpeg

    for name in ("a.jpg", "b.jpg"):
        (corpus / name).write_bytes(photo_jpeg(640, 480))
    (corpus / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    data, markdown = bench(tmp_path / "out", "backfill", "--corpus", str(corpus), "--workers", "1")
    assert data["cold"]["originals"] == 3 and data["statuses"] == {"ingested": 2, "rejected": 1}
    assert data["resume"]["skipped"] == 3
    assert "| cold | 3 |" in markdown


def test_without_the_bench_extra_the_command_says_how_to_install_it() -> None:
    block = "import sys; sys.modules['vipsfront_bench'] = None; from vipsfront.cli.main import main; sys.exit(main())"
    done = subprocess.run([sys.executable, "-c", block, "bench", "lambda"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "pip install -e '.[bench]'" in done.stderr
    assert "Traceback" not in done.stderr


def test_the_runtime_imports_no_benchmark_module() -> None:
    probe = "import sys, vipsfront.cli.main, vipsfront.web.app; print(sorted(m for m in sys.modules if 'bench' in m))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]"


def test_sigterm_stops_the_servers_the_run_started(tmp_path: Path) -> None:
    """``kill`` on a running bench unwinds it: moto and the Lambda instance stop with it, none orphaned."""
    psutil = pytest.importorskip("psutil")
    pytest.importorskip("mangum")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIPSFRONT_"))}
    command = [sys.executable, "-m", "vipsfront_bench", "lambda", "--quick", "--repeats", "50", "--out", str(tmp_path)]
    bench = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        seen: list[Any] = []
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and bench.poll() is None:  # until the instance serves
            seen = psutil.Process(bench.pid).children(recursive=True)
            if any("serve" in child.cmdline() for child in seen if child.is_running()):
                break
            time.sleep(0.2)
        assert bench.poll() is None, "the bench ended before its instance started"
        assert len(seen) >= 2, [child.cmdline() for child in seen]  # moto and the instance
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(timeout=60) == 128 + signal.SIGTERM
        _, alive = psutil.wait_procs(seen, timeout=15)
        assert not alive, [child.cmdline() for child in alive]
        assert b"Traceback" not in bench.stderr.read()  # type: ignore[union-attr]
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
