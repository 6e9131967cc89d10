"""cfn-lint and checkov on the synthesized templates: no cfn-lint error or warning, no checkov finding outside
the acknowledged list in ``.checkov.yaml``.

cfn-lint's exit code is a set of bit flags: 2 for errors, 4 for warnings, 8 for informational findings, 1 when
it could not lint at all. Errors and warnings fail the test (``--non-zero-exit-code warning``); informational
rules (style, such as "prefer Fn::Sub over Fn::Join") are off by default and judge what the CDK writes, not us.

checkov pins its own boto3, so it lives in a virtualenv of its own (CI: ``build/checkov``, made by
``.ci/run``); elsewhere the test finds it on the PATH or skips, except in CI, where a missing checkov fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHECKOV_VENV = ROOT / "build" / "checkov" / "bin" / "checkov"
# W3005: a DependsOn that a GetAtt already implies; the CDK writes both for each function's and state
# machine's role (its DependsOn also lists the role's default policy, which no GetAtt names).
CFN_LINT_IGNORED = ["W3005"]

aws_cdk = pytest.importorskip("aws_cdk")
from aws_cdk.assertions import Template  # noqa: E402


def write_template(stack: Any, folder: Path) -> Path:
    path = folder / "Vipsfront.template.json"
    path.write_text(json.dumps(Template.from_stack(stack).to_json()))
    return path


@pytest.fixture(scope="module")
def templates(
    default_stack: Any, operations_stack: Any, minimal_stack: Any, tmp_path_factory: pytest.TempPathFactory
) -> list[Path]:
    folder = tmp_path_factory.mktemp("templates")
    paths = []
    for name, stack in (("default", default_stack), ("operations", operations_stack), ("minimal", minimal_stack)):
        (folder / name).mkdir()
        paths.append(write_template(stack, folder / name))
    return paths


def cfn_lint() -> str:
    """The ``cfn-lint`` command installed beside this interpreter (cfn-lint 1.x has no ``python -m cfnlint``)."""
    found = shutil.which("cfn-lint", path=str(Path(sys.executable).parent)) or shutil.which("cfn-lint")
    if found is None:
        pytest.fail("cfn-lint is not installed (a dev dependency: pip install -e '.[dev]')")
    return found


def checkov() -> str:
    found = shutil.which("checkov") or (str(CHECKOV_VENV) if CHECKOV_VENV.is_file() else None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"checkov is not installed: .ci/run installs it in {CHECKOV_VENV.parents[1].relative_to(ROOT)}")
        pytest.skip("checkov is not installed (python3 -m venv build/checkov && build/checkov/bin/pip install checkov)")
    return found


def test_cfn_lint_finds_no_error_or_warning(templates: list[Path]) -> None:
    result = subprocess.run(
        [
            cfn_lint(),
            "--format",
            "json",
            "--non-zero-exit-code",
            "warning",
            "--ignore-checks",
            *CFN_LINT_IGNORED,
            "--",
            *map(str, templates),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[:4000] + result.stderr[-2000:]
    assert json.loads(result.stdout) == []


def test_checkov_finds_nothing_unacknowledged(templates: list[Path]) -> None:
    for template in templates:
        result = subprocess.run(
            [
                checkov(),
                "--config-file",
                str(ROOT / ".checkov.yaml"),
                "-f",
                str(template),
                "-o",
                "json",
                "--quiet",
                "--compact",
                "--skip-download",  # no request for the vendor's guideline links: the check ids are enough
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=ROOT,
        )
        report = json.loads(result.stdout)
        failed = [f"{c['check_id']} {c['resource']}: {c['check_name']}" for c in report["results"]["failed_checks"]]
        assert not failed, f"{template.parent.name}: " + "\n".join(failed)
        assert result.returncode == 0, result.stderr[-2000:]
        # checkov answers 0 with no finding when it cannot parse a template: it must have read every resource
        resources = json.loads(template.read_text())["Resources"]
        summary = report["summary"]
        assert (summary["parsing_errors"], summary["resource_count"]) == (0, len(resources)), summary
        assert summary["passed"] > 0, summary
