"""`npx cdk synth` as a team runs it: the npm CLI pinned in package.json, real local bundling, no Docker."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def cdk_cli() -> Path:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed for the CDK CLI (npm ci installs it from package.json)")
    cli = ROOT / "node_modules" / ".bin" / "cdk"
    if not cli.exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=ROOT, check=True, timeout=300)
    return cli


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        CDK_DISABLE_CLI_TELEMETRY="true",
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        AWS_EC2_METADATA_DISABLED="true",  # no credentials here: don't look for an instance role
    )
    return env


def test_npx_cdk_synth(cdk_cli: Path, tmp_path: Path) -> None:
    outdir = tmp_path / "cdk.out"
    result = subprocess.run(
        ["npx", "cdk", "synth", "--no-notices", "-q", "-o", str(outdir)],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    template = json.loads((outdir / "Vipsfront.template.json").read_text())
    kinds = {r["Type"] for r in template["Resources"].values()}
    assert {"AWS::CloudFront::Distribution", "AWS::CloudFront::Function", "AWS::Lambda::Function"} <= kinds
    # the default synth bundles for real: libvips for aarch64 in the function's asset
    libs = [p for p in outdir.glob("asset.*/pyvips_binary.libs/libvips*.so*")]
    assert libs and all(p.read_bytes()[18] == 0xB7 for p in libs)


def test_npx_cdk_synth_refuses_a_bad_preset_naming_its_context_key(cdk_cli: Path, tmp_path: Path) -> None:
    result = subprocess.run(
        ["npx", "cdk", "synth", "--no-notices", "-q", "-o", str(tmp_path / "cdk.out")]
        + ["-c", 'vipsfront:presets={"thumb": {"w": "abc"}}'],
        cwd=ROOT,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 1  # the CLI's answer when the app exits with an error
    assert "vipsfront:presets: preset 'thumb': w must be" in result.stderr, result.stderr[-3000:]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "cdk.out" / "Vipsfront.template.json").exists()
