"""``transform`` in clients/js, unpic's transformer, against tests/vectors/builders/transform.json: each
case's URL is the one the Python builder makes for its native twin and the one the origin reads back; and
unpic's components (``@unpic/core``, a root devDependency) take it as their ``transformer``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from vipsfront.errors import VipsfrontError
from vipsfront.url import builders as urls
from vipsfront.url.policy import Policy
from vipsfront.url.route import route

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors" / "builders" / "transform.json"
TESTS = ROOT / "clients" / "js" / "test"
DOC = json.loads(VECTORS.read_text())
CASES = DOC["cases"]
NODE = shutil.which("node")


def node(script: str, *args: str) -> subprocess.CompletedProcess[str]:
    if NODE is None:
        pytest.skip("node is not on PATH: the JavaScript client cannot run")
    return subprocess.run([NODE, str(TESTS / script), *args], capture_output=True, text=True, timeout=60, check=False)


def test_vectors_cover_unpic_operations_ours_and_refusals() -> None:
    names = {name for case in CASES for name in case["operations"]}
    assert {"width", "height", "format", "quality", "fit", "dpr"} <= names
    assert any("error" in str(case["expect"]) for case in CASES)
    assert any(case.get("options", {}).get("sign") for case in CASES)


@pytest.mark.parametrize("case", CASES, ids=[case["name"] for case in CASES])
def test_the_python_builder_makes_the_same_url_for_the_twin(case: dict[str, Any]) -> None:
    twin = case["twin"]
    signing_key = (twin["sign"], DOC["keys"][twin["sign"]]) if "sign" in twin else None
    try:
        got: Any = urls.url(
            twin["key"], twin["params"], base=twin.get("base", ""), signing_key=signing_key, expires=twin.get("expires")
        )
    except VipsfrontError as error:
        got = {"error": {"param": error.param}}
    assert got == case["expect"]


@pytest.mark.parametrize("case", [c for c in CASES if isinstance(c["expect"], str)], ids=lambda case: case["name"])
def test_the_origin_reads_each_url_back_to_its_own_query(case: dict[str, Any]) -> None:
    parts = urlsplit(case["expect"])
    pairs = [pair for pair in parts.query.split("&") if not pair.startswith(("s=", "exp="))]
    keys = {kid: secret.encode() for kid, secret in DOC["keys"].items()}
    policy = Policy.create(keys=keys) if "sign" in case["twin"] else Policy.create()
    result = route(parts.path, parts.query, "image/avif", policy, now=1790000000)
    assert result.spec.canonical().replace("fm=auto-avif", "fm=auto") == ",".join(pairs)


def test_javascript_transform() -> None:
    result = node("run_url_vectors.mjs", str(VECTORS))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(CASES)} passed, 0 failed" in result.stdout


def test_unpic_components_take_transform_as_their_transformer() -> None:
    if not (ROOT / "node_modules" / "@unpic" / "core").is_dir():
        pytest.skip("unpic is not installed: run `npm ci` at the repository root")
    result = node("unpic_transformer.mjs")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checks passed" in result.stdout
