"""The URL builders, Python (vipsfront.url.builders) and JavaScript (clients/js), against
tests/vectors/builders/urls.json.

URL vectors live in their own folder with their own schema: the route-vector runners read
tests/vectors/*.json only.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from vipsfront.errors import VipsfrontError
from vipsfront.url import builders as urls
from vipsfront.url.policy import Policy, UnsignedPolicy
from vipsfront.url.route import route

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors" / "builders" / "urls.json"
CLIENT = ROOT / "clients" / "js"
DOC = json.loads(VECTORS.read_text())
KEYS = {kid: secret.encode() for kid, secret in DOC["keys"].items()}
NODE = shutil.which("node")


def build(case: dict[str, Any]) -> str:
    args = case["args"]
    options = args.get("options", {})
    if case["fn"] == "sizes":
        return urls.sizes([tuple(rule) for rule in args["rules"]], args["fallback"])
    if case["fn"] == "loader":
        return urls.loader(
            args["src"], args["width"], args.get("quality"), base=options.get("base", ""), params=options.get("params")
        )
    signing = {"base": options.get("base", ""), "expires": options.get("expires")}
    if "sign" in options:
        signing["signing_key"] = (options["sign"], KEYS[options["sign"]])
    if case["fn"] == "url":
        return urls.url(args["key"], args.get("params"), **signing)
    return urls.srcset(args["key"], args["widths"], args.get("params"), **signing)


def test_vectors_cover_every_builder() -> None:
    assert {case["fn"] for case in DOC["cases"]} == {"url", "srcset", "sizes", "loader"}
    assert any("error" in str(case["expect"]) for case in DOC["cases"])


@pytest.mark.parametrize("case", DOC["cases"], ids=[case["name"] for case in DOC["cases"]])
def test_python_builder(case: dict[str, Any]) -> None:
    try:
        got: Any = build(case)
    except VipsfrontError as error:
        got = {"error": {"param": error.param}}
    assert got == case["expect"]


def test_every_built_url_passes_the_edge() -> None:
    """Unsigned URLs route to their own canonical form; signed ones verify even when no width is open."""
    policy = Policy.create(keys=KEYS, unsigned=UnsignedPolicy(widths=()))
    open_policy = Policy.create()
    checked = 0
    for case in DOC["cases"]:
        if case["fn"] == "sizes" or not isinstance(case["expect"], str):
            continue
        candidates = [part.rsplit(" ", 1)[0] for part in case["expect"].split(", ")]
        for built in candidates:
            path, _, query = built.removeprefix("https://cdn.example.com").partition("?")
            pairs = [pair for pair in query.split("&") if pair and not pair.startswith(("s=", "exp="))]
            signed = len(pairs) < len([pair for pair in query.split("&") if pair])
            result = route(path, query, "image/avif", policy if signed else open_policy, now=1790000000)
            assert result.spec.canonical().replace("fm=auto-avif", "fm=auto") == ",".join(pairs)
            checked += 1
    assert checked > 30


@pytest.mark.skipif(NODE is None, reason="node is not on PATH: the JavaScript builder cannot run")
def test_javascript_builder() -> None:
    assert NODE is not None
    result = subprocess.run(
        [NODE, str(CLIENT / "test" / "run_url_vectors.mjs")], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(DOC['cases'])} passed, 0 failed" in result.stdout


def test_the_browser_module_imports_nothing_and_declares_its_exports() -> None:
    source = (CLIENT / "vipsfront.mjs").read_text()
    assert not re.search(r"^\s*import\b|\brequire\(", source, re.M)  # safe to ship to browsers
    declared = (CLIENT / "vipsfront.d.mts").read_text()
    for name in re.findall(r"^export (?:function|const|class) (\w+)", source, re.M):
        assert re.search(rf"\b{name}\b", declared), f"{name} is not declared in vipsfront.d.mts"
    assert "node:crypto" in (CLIENT / "sign.mjs").read_text()
