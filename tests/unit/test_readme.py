"""The README stays true: its test command is what CI runs, and its examples run as written."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_ci_runs_the_readme_test_command() -> None:
    commands = [b.strip() for b in blocks("sh") if "pytest" in b]
    assert commands, "the README names no test command"
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[0] in ci.splitlines()


def test_readme_set_up_command_runs_serve() -> None:
    assert "python3 -m pip install -e . && vipsfront serve" in [b.strip() for b in blocks("sh")]


@pytest.mark.parametrize("code", blocks("python"))
def test_python_examples_run_and_print_what_they_say(code: str) -> None:
    namespace: dict[str, object] = {}
    for statement in ast.parse(code).body:
        source = ast.get_source_segment(code, statement) or ""
        line = code.splitlines()[statement.end_lineno - 1]
        expected = re.search(r'#\s*("[^"]*")\s*$', line)
        if isinstance(statement, ast.Expr):
            value = eval(compile(ast.Expression(statement.value), "<README>", "eval"), namespace)  # noqa: S307
            assert isinstance(value, str) and value, source
            if expected:
                assert value == ast.literal_eval(expected.group(1)), source
        else:
            exec(compile(ast.Module([statement], []), "<README>", "exec"), namespace)  # noqa: S102


@pytest.mark.parametrize("code", blocks("js"))
def test_js_examples_run_under_node(code: str) -> None:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed (the README's JS examples need it)")
    # Relative imports resolve from the repository root, as they would from a page there.
    result = subprocess.run(
        [node, "--input-type=module", "-e", code],
        cwd=ROOT,
        env={**os.environ, "SECRET": "0123456789abcdef-readme"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
