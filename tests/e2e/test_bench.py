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

from vipsfront_bench.deployed import QUICK_LAMBDA_OPS, QUICK_VERDICT
from vipsfront_bench.scenarios import CENTRED_OPS, OPS, QUICK_OPS

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
    markdown = (out / f"{args[0]}.md").read_text()
    assert markdown.strip() in done.stdout  # the summary is printed, not only written
    return json.loads((out / f"{args[0]}.json").read_text()), markdown


def decodes_as(path: str, width: int, fmt: str) -> None:
    image = pyvips.Image.new_from_file(path)
    assert image.width == width
    assert image.get("vips-loader") == LOADERS[fmt]


@pytest.fixture(scope="module")
def lambda_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str]:
    """One ``lambda --quick`` run (it builds the Lambda asset), shared by the tests that read it."""
    pytest.importorskip("mangum")
    return bench(tmp_path_factory.mktemp("lambda"), "lambda", "--no-install", through_cli=True)


def test_lambda_judges_each_goal_with_its_figures(lambda_run: tuple[dict[str, Any], str]) -> None:
    data, markdown = lambda_run
    goals = {goal["id"]: goal for goal in data["goals"]}
    assert set(goals) == {"cold_start", "warm_misses", "overhead", "peak_rss"}
    sample = "skipped" not in data["aws_sample"]
    for goal in goals.values():
        assert goal["verdict"] == QUICK_VERDICT  # a smoke run's figures judge no goal
        assert goal["met"] is None
        assert goal["goal"] in markdown
    assert goals["cold_start"]["measured"]["vipsfront_s"] > 0
    if sample:
        assert goals["cold_start"]["measured"]["aws_sample_s"] > 0
    assert set(goals["overhead"]["measured"]["rest_ms_p50_by_op"]) == set(QUICK_LAMBDA_OPS)
    assert goals["peak_rss"]["measured"]["peak_rss_mb"] > 0
    assert data["memory"]["vipsfront"]["memory_setting_mb"] >= data["memory"]["vipsfront"]["peak_rss_mb"]


def test_lambda_runs_the_built_asset_as_one_instance(lambda_run: tuple[dict[str, Any], str]) -> None:
    data, markdown = lambda_run
    cold = data["cold_start"]["vipsfront"]
    assert cold["import_s"] > 0 and cold["first_request_s"] > 0 and cold["spawn_to_first_image_s"] > 0
    assert "vipsfront.web.app" in cold["loaded_by_first_request"]  # the app came from the asset
    assert set(data["misses"]) == set(QUICK_LAMBDA_OPS)
    for op in CENTRED_OPS:
        if op.id not in QUICK_LAMBDA_OPS:
            continue
        row = data["misses"][op.id]["vipsfront"]
        assert row["handler_ms"]["p50"] > 0 and row["rss_peak_mb"] > 0
        assert set(row["steps_ms_p50"]) == {"s3_read", "transform", "s3_write"}
        for path in row["outputs"]:
            decodes_as(path, op.width, op.format)
        for memory in data["cost"]["usd_per_million"][op.id].values():
            assert memory["arm64"] > 0 and memory["x86_64"] > memory["arm64"]
        assert op.label in markdown
    for heading in ("## Goals", "## Cold start", "## Warm misses", "## Memory", "## Cost per million misses"):
        assert heading in markdown


def test_lambda_runs_the_aws_sample_in_the_same_shape(lambda_run: tuple[dict[str, Any], str]) -> None:
    data, _ = lambda_run
    if "skipped" in data["aws_sample"]:
        pytest.skip(f"the AWS sample did not run: {data['aws_sample']['skipped']}")
    assert data["cold_start"]["aws-sample"]["spawn_to_first_image_s"] > 0
    for op in CENTRED_OPS:
        if op.id in QUICK_LAMBDA_OPS:
            row = data["misses"][op.id]
            assert row["aws-sample"]["handler_ms"]["p50"] > 0 and row["ours_over_sample"] > 0
            for path in row["aws-sample"]["outputs"]:
                decodes_as(path, op.width, op.format)


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


def command_line(process: Any) -> list[str]:
    """A child's command line; empty once it has gone (a short-lived child can end between listing and reading)."""
    import psutil

    try:
        return list(process.cmdline())
    except psutil.Error:
        return []


def test_sigterm_stops_the_servers_the_run_started(tmp_path: Path) -> None:
    """``kill`` on a running bench unwinds it: moto and the Lambda instance stop with it, none orphaned."""
    psutil = pytest.importorskip("psutil")
    pytest.importorskip("mangum")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "VIPSFRONT_"))}
    command = [sys.executable, "-m", "vipsfront_bench", "lambda", "--quick", "--no-install", "--repeats", "50"]
    command += ["--out", str(tmp_path)]
    bench = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        seen: list[Any] = []
        deadline = time.monotonic() + 300  # after the asset's build and the cold starts
        while time.monotonic() < deadline and bench.poll() is None:  # until the instance serves
            seen = psutil.Process(bench.pid).children(recursive=True)
            if any("serve" in command_line(child) for child in seen):
                break
            time.sleep(0.2)
        assert bench.poll() is None, "the bench ended before its instance started"
        assert len(seen) >= 2, [command_line(child) for child in seen]  # moto and the instance
        bench.send_signal(signal.SIGTERM)
        assert bench.wait(timeout=60) == 128 + signal.SIGTERM
        _, alive = psutil.wait_procs(seen, timeout=15)
        assert not alive, [command_line(child) for child in alive]
        assert b"Traceback" not in bench.stderr.read()  # type: ignore[union-attr]
    finally:
        if bench.poll() is None:
            bench.kill()
            bench.wait()
