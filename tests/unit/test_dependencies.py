"""Dependencies by where they run: the core install (pyproject's ``[project] dependencies``) is what the
Lambda runs and declares every package the runtime and the handlers import; the local server's packages
are the ``serve`` extra, which ``vipsfront serve`` asks for by name when it is missing."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from collections.abc import Iterable
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "shared" / "vipsfront"
SHELL = RUNTIME / "cli"  # the local shell: `vipsfront serve` and the other commands, never in Lambda
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
OURS = {"vipsfront", "vipsfront_bench", "functions"}


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def declared(requirements: Iterable[str]) -> set[str]:
    return {normal(re.split(r"[\[<>=!~;\s]", req, maxsplit=1)[0]) for req in requirements}


def imported(files: Iterable[Path]) -> set[str]:
    """The top-level names of the third-party modules the files import, at the top or inside a function."""
    names: set[str] = set()
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {name for name in names if name not in sys.stdlib_module_names and name not in OURS}


def distributions(modules: set[str]) -> set[str]:
    """The installed distributions that provide ``modules`` (a module's own name when none is installed)."""
    provided = packages_distributions()
    return {normal(dist) for module in modules for dist in provided.get(module, [module])}


def test_the_core_install_declares_every_package_the_lambda_side_imports() -> None:
    files = [*(ROOT / "functions").rglob("*.py"), *(p for p in RUNTIME.rglob("*.py") if SHELL not in p.parents)]
    modules = imported(files)
    assert {"pyvips", "fastapi", "starlette", "boto3", "botocore", "mangum", "aws_lambda_powertools"} <= modules
    assert distributions(modules) <= declared(PROJECT["dependencies"])


def test_the_serve_extra_declares_what_the_local_shell_adds() -> None:
    modules = imported(SHELL.rglob("*.py"))
    extras = PROJECT["optional-dependencies"]
    assert declared(extras["serve"]) == {"uvicorn", "moto"}
    assert distributions(modules) <= declared(PROJECT["dependencies"]) | declared(extras["serve"])


def test_serve_without_the_serve_extra_names_the_install() -> None:
    # uvicorn made unimportable, as in an install without the serve extra
    code = "import sys; sys.modules['uvicorn'] = None; from vipsfront.cli.main import main; sys.exit(main(['serve']))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "vipsfront: error: vipsfront serve needs the serve extra: pip install -e '.[serve]'" in done.stderr
