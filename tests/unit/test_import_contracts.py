"""The layering in ``pyproject.toml``'s import contracts holds, and a forbidden import breaks it.

``lint-imports`` (import-linter) reads the contracts from ``pyproject.toml``; the root packages live in
``shared/``, ``benchmarks/``, ``cdk/`` and the repo root (``functions``), so they go on ``PYTHONPATH``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SEARCH_PATH = [ROOT / "shared", ROOT / "benchmarks", ROOT / "cdk", ROOT]
LINT_IMPORTS = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))


def lint_imports(*first: Path) -> subprocess.CompletedProcess[str]:
    """Run the contracts with ``first`` ahead of the project's own folders on ``PYTHONPATH``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(str(path) for path in (*first, *SEARCH_PATH))}
    return subprocess.run(
        [LINT_IMPORTS, "--no-cache", str(ROOT / "pyproject.toml")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_the_layering_holds() -> None:
    if not Path(LINT_IMPORTS).exists():
        pytest.fail("lint-imports is missing: install the dev extra (pip install -e '.[dev]')")
    result = lint_imports()
    assert result.returncode == 0, result.stdout + result.stderr
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert len(contracts) >= 9
    assert f"Contracts: {len(contracts)} kept, 0 broken." in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("url/grammar.py", "import boto3", "The pure core imports no AWS SDK"),
        ("engine/run.py", "from vipsfront.stores import s3", "The runtime's layers"),
        ("origin/serving.py", "import fastapi", "Stores, the origin and the life of an original know no HTTP"),
        ("stores/s3.py", "from vipsfront.origin import serving", "The runtime's layers"),
        ("url/spec.py", "import pyvips", "URL grammar, routing and settings need no libvips"),
        ("url/keys.py", "from vipsfront.url import route", "No import cycle"),
        ("web/app.py", "import vipsfront_bench", "The runtime never imports the benchmarks"),
    ],
)
def test_a_forbidden_import_breaks_a_contract(tmp_path: Path, module: str, line: str, contract: str) -> None:
    copy = tmp_path / "vipsfront"
    shutil.copytree(ROOT / "shared" / "vipsfront", copy, ignore=shutil.ignore_patterns("__pycache__"))
    source = copy / module
    source.write_text(source.read_text() + f"\n{line}  # noqa\n")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout  # lint-imports: 1 when a contract is broken
    broken = [text for text in result.stdout.splitlines() if "BROKEN" in text or contract in text]
    assert any(contract in text for text in broken), result.stdout
