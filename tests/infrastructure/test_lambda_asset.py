"""The Lambda asset holds the runtime only: ``layers/build.py`` (sources only, no pip) leaves out the
benchmarks and the tests, and refuses an asset that holds them; its bytecode alone runs the handlers."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def load_build() -> ModuleType:
    spec = importlib.util.spec_from_file_location("vipsfront_layers_build", ROOT / "layers" / "build.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses and the like look their module up
    spec.loader.exec_module(module)
    return module


build = load_build()


@pytest.fixture(scope="module")
def asset(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    out = build.build(tmp_path_factory.mktemp("asset"), "arm64", deps=False)
    return out, sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())


def test_the_asset_holds_the_handler_and_the_runtime_package(asset: tuple[Path, list[str]]) -> None:
    _, files = asset
    assert "handler.py" in files
    runtime = sorted(p.relative_to(ROOT / "shared").as_posix() for p in (ROOT / "shared/vipsfront").rglob("*.py"))
    assert set(runtime) <= set(files)


def test_the_asset_holds_no_benchmarks_or_tests(asset: tuple[Path, list[str]]) -> None:
    out, files = asset
    for name in files:
        segments = name.removesuffix(".py").split("/")
        assert not {"bench", "benchmark", "benchmarks", "vipsfront_bench", "tests", "test", "conftest"} & set(
            segments
        ), name
        assert not segments[-1].startswith("test_"), name
    importers = {
        path.relative_to(out).as_posix()
        for path in out.rglob("*.py")
        if re.search(r"^\s*(from|import)\s+(vipsfront_bench|tests)\b", path.read_text(), re.M)
    }
    assert importers <= {"vipsfront/cli/main.py"}  # `vipsfront bench` only, imported inside the command


def test_a_benchmark_or_test_module_in_the_asset_is_refused(tmp_path: Path) -> None:
    out = build.build(tmp_path / "asset", "arm64", deps=False)
    (out / "vipsfront" / "bench").mkdir()
    (out / "vipsfront" / "bench" / "runner.py").write_text("")
    with pytest.raises(RuntimeError, match="benchmarks or tests"):
        build.check(out, "arm64", deps=False)
    assert build.not_runtime(["vipsfront/spec.py", "handler.py", "vipsfront/test_spec.py", "tests/conftest.py"]) == [
        "tests/conftest.py",
        "vipsfront/test_spec.py",
    ]


# In a fresh interpreter, as Lambda's init: the transform handler, what its first invocation imports, and
# the lifecycle handler. Prints each module loaded from the asset and the file it came from.
IMPORT_HANDLERS = """
import json, sys
sys.path.insert(0, sys.argv[1])
import handler, lifecycle.handler, mangum, vipsfront.web.app
print(json.dumps({name: m.__file__ for name, m in sys.modules.items() if getattr(m, "__file__", None)}))
"""


def test_the_handlers_import_chain_runs_from_the_bytecode_alone(tmp_path: Path) -> None:
    """Every source of ours is replaced after compiling: the handlers still import, so the interpreter of
    the compiled version reads the .pyc without looking at the source (its date is lost in the zip)."""
    out = build.build(tmp_path / "asset", "arm64", deps=False)
    build.compile_bytecode(out, sys.executable)  # this interpreter stands in for the Lambda's Python
    sources = list(out.rglob("*.py"))
    for source in sources:
        source.write_text('raise ImportError("imported from its source, not its bytecode")\n')
    env = {"PATH": os.environ.get("PATH", ""), "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run(
        [sys.executable, "-I", "-B", "-c", IMPORT_HANDLERS, str(out)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    loaded = {name for name, file in json.loads(done.stdout).items() if Path(file).is_relative_to(out)}
    assert {
        "handler",
        "lifecycle.handler",
        "vipsfront.web.app",
        "vipsfront.observability",
        "vipsfront.config.settings",
        "vipsfront.engine.run",
        "vipsfront.stores.s3",
    } <= loaded


def test_the_bytecode_is_compiled_by_the_lambdas_python_version_only() -> None:
    this = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert build.python_for(this) == sys.executable
    assert build.python_for("3.0") is None  # the build ships the sources only, with a warning
    with pytest.raises(ValueError, match="not a Python 3.0 interpreter"):
        build.python_for("3.0", sys.executable)
