"""The real asset: CDK local bundling runs pip for the Lambda's platform (needs PyPI; about 10-30 s) and
compiles it with a Python of the Lambda's version (that test is skipped without one on PATH)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "cdk"))

aws_cdk = pytest.importorskip("aws_cdk")

from vipsfront_cdk import Settings, VipsfrontStack  # noqa: E402
from vipsfront_cdk.transform_function import load_builder  # noqa: E402

AARCH64 = 0xB7
build = load_builder()


def asset_folder(outdir: Path) -> Path:
    """The staged folder of the transform function's code asset (the one with pyvips in it)."""
    folders = [p for p in outdir.glob("asset.*") if (p / "pyvips").is_dir()]
    assert len(folders) == 1, folders
    return folders[0]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The transform function's asset, as `cdk synth` stages it for arm64."""
    outdir = tmp_path_factory.mktemp("cdk") / "cdk.out"
    app = aws_cdk.App(outdir=str(outdir))
    VipsfrontStack(app, "Vipsfront", settings=Settings(arch="arm64"))
    app.synth()
    return asset_folder(outdir)


def test_local_bundling_builds_libvips_for_arm64(folder: Path) -> None:
    libs = build.libvips_files(folder)
    assert libs, "no libvips*.so* in the asset"
    for lib in libs:
        header = lib.read_bytes()[:20]
        assert header[:4] == b"\x7fELF"
        assert int.from_bytes(header[18:20], "little") == AARCH64, lib
    assert (folder / "handler.py").is_file()
    assert (folder / "vipsfront" / "web" / "app.py").is_file()
    for package in (
        "pyvips",
        "fastapi",
        "mangum",
        "aws_lambda_powertools",
        "aws_xray_sdk",
        "pydantic_core",
        "starlette",
    ):
        assert (folder / package).is_dir(), package
    assert not (folder / "boto3").exists() and not (folder / "botocore").exists()
    assert build.folder_size(folder) < build.MAX_UNZIPPED_BYTES
    assert next(folder.glob("pydantic_core/_pydantic_core.cpython-312-aarch64-linux-gnu.so"), None)


def test_the_asset_holds_bytecode_for_every_module(folder: Path) -> None:
    if build.python_for(build.PYTHON_VERSION) is None:
        pytest.skip(build.NO_BYTECODE.format(version=build.PYTHON_VERSION))
    tag = "cpython-" + build.PYTHON_VERSION.replace(".", "")
    without = [p for p in folder.rglob("*.py") if not (p.parent / "__pycache__" / f"{p.stem}.{tag}.pyc").is_file()]
    assert not without, without[:5]  # so the handler's whole chain: /var/task is read-only


def test_the_asset_ships_pyprojects_dependencies_less_the_runtimes() -> None:
    names = {build.requirement_name(r) for r in build.requirements()}
    assert {"pyvips", "fastapi", "starlette", "mangum", "aws-lambda-powertools"} <= names
    assert not names & {"boto3", "botocore", "moto", "uvicorn"}
