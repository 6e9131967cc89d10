"""cfn-lint and checkov on the synthesized templates: no cfn-lint error, no checkov finding outside the
acknowledged list in ``.checkov.yaml``.

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
# W3005: a DependsOn that a GetAtt already implies; the CDK writes both for its roles and key stores.
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


def checkov() -> str:
    found = shutil.which("checkov") or (str(CHECKOV_VENV) if CHECKOV_VENV.is_file() else None)
    if found is None:
        if os.environ.get("CI"):
            pytest.fail(f"checkov is not installed: .ci/run installs it in {CHECKOV_VENV.parents[1].relative_to(ROOT)}")
        pytest.skip("checkov is not installed (python3 -m venv build/checkov && build/checkov/bin/pip install checkov)")
    return found


def test_cfn_lint_finds_no_error(templates: list[Path]) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cfnlint",
            "--format",
            "json",
            "--ignore-checks",
            *CFN_LINT_IGNORED,
            "--",
            *map(str, templates),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    findings = json.loads(result.stdout or "[]")
    assert findings == [], json.dumps(findings, indent=1)[:4000]


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
            ],
            capture_output=True,
            text=True,
            timeout=600,
            cwd=ROOT,
        )
        report = json.loads(result.stdout)
        reports = report if isinstance(report, list) else [report]
        failed = [
            f"{check['check_id']} {check['resource']}: {check['check_name']}"
            for r in reports
            if isinstance(r, dict) and "results" in r
            for check in r["results"]["failed_checks"]
        ]
        assert not failed, f"{template.parent.name}: " + "\n".join(failed)
        assert result.returncode == 0, result.stderr[-2000:]
