"""The CloudFront Functions (functions/edge/viewer_request.js, and info_request.js for /_vf/info/*) under
node, as source and as deployed.

It must pass every case in tests/vectors/*.json, as the Python route does, in its source and in its
minified build (what the CDK construct deploys); the build with a deployed config must stay within the
construct's size budget, below CloudFront Functions' 10 KB limit; and both must use only what the
cloudfront-js-2.0 runtime documents (check_runtime.mjs). A seeded corpus of generated requests, whose
expectations the Python route computes here, with and without client hints, checks the two
implementations against each other beyond the vectors. The info function is held to
tests/vectors/info/*.json and to generated info paths against ``keys.parse_info_path`` the same way.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from vipsfront.errors import VipsfrontError
from vipsfront.url.breakpoints import BREAKPOINT_WIDTHS
from vipsfront.url.keys import info_path, parse_info_path
from vipsfront.url.policy import Policy
from vipsfront.url.query import parse_query
from vipsfront.url.route import Hints, route
from vipsfront.url.signing import sign
from vipsfront.url.spec import Spec

ROOT = Path(__file__).resolve().parents[2]
EDGE = ROOT / "functions" / "edge"
SOURCE = EDGE / "viewer_request.js"
RUNNER = EDGE / "run_vectors.mjs"
CHECKER = EDGE / "check_runtime.mjs"
VECTORS = ROOT / "tests" / "vectors"
TOKEN = "__VIPSFRONT_CONFIG__"
MAX_CODE_BYTES = 10 * 1024
KVS_ID = "x" * 36  # a KeyValueStore id is a UUID

NODE = shutil.which("node")
needs_node = pytest.mark.skipif(NODE is None, reason="node is not on PATH: the edge function cannot run")


def run_node(*args: str, script: Path = RUNNER) -> subprocess.CompletedProcess[str]:
    assert NODE is not None
    return subprocess.run(
        [NODE, str(script), *args], capture_output=True, text=True, timeout=120, cwd=ROOT, check=False
    )


def vector_docs() -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted(VECTORS.glob("*.json"))]


def dialect_docs() -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted((VECTORS / "dialects").glob("*.json"))]


def info_docs() -> list[dict[str, Any]]:
    return [json.loads(path.read_text()) for path in sorted((VECTORS / "info").glob("*.json"))]


def summary(output: str) -> tuple[int, int, int]:
    match = re.search(r"vectors: (\d+) cases; handler: (\d+) checks; (\d+) failed", output)
    assert match, f"no summary line in the runner's output:\n{output}"
    return int(match[1]), int(match[2]), int(match[3])


@pytest.fixture(scope="module")
def construct() -> Any:
    """The CDK construct's module: what deploys is its ``minified`` source, ``render``ed with a config."""
    pytest.importorskip("aws_cdk")
    if NODE is None:
        pytest.skip("node is not on PATH: the edge function cannot be minified")
    sys.path.insert(0, str(ROOT / "cdk"))
    from vipsfront_cdk import edge_function

    return edge_function


def deployed_config(presets: dict[str, dict[str, str]]) -> dict[str, Any]:
    """A config in the shape the CDK construct renders: breakpoint widths, no height, the largest side."""
    unsigned = {"widths": list(BREAKPOINT_WIDTHS), "heights": [], "max_side": 8192, "presets_only": False}
    return {"presets": presets, "unsigned": unsigned, "signed": True}


# ---------------------------------------------------------------------------------------------------
# the shared vectors


@needs_node
def test_every_vector_passes_under_node() -> None:
    result = run_node()
    expected = sum(len(doc["cases"]) for doc in vector_docs() + dialect_docs() + info_docs())
    assert result.returncode == 0, result.stdout + result.stderr
    cases, checks, failed = summary(result.stdout)
    assert (cases, failed) == (expected, 0)
    assert checks >= 15
    assert info_docs(), "tests/vectors/info/ has no vectors"


@needs_node
def test_the_runner_fails_on_a_wrong_expectation(tmp_path: Path) -> None:
    doc = json.loads((VECTORS / "spec.json").read_text())
    doc["cases"] = [dict(doc["cases"][0], expect={"error": {"status": 400, "param": "w"}})]
    (tmp_path / "wrong.json").write_text(json.dumps(doc))
    result = run_node(str(tmp_path))
    assert result.returncode == 1
    assert "FAIL wrong (source): " in result.stdout and "FAIL wrong (minified): " in result.stdout
    assert summary(result.stdout)[0] == 1


# ---------------------------------------------------------------------------------------------------
# CloudFront Functions' limits


def test_what_deploys_is_minified_and_fits_the_budget_with_room_for_presets(construct: Any) -> None:
    code = construct.minified(SOURCE)
    assert len(code.encode()) < 0.8 * len(SOURCE.read_bytes())
    assert construct.CODE_BUDGET_BYTES < MAX_CODE_BYTES == construct.MAX_CODE_BYTES
    # the construct's default presets and ladder, and five more presets of a typical size
    presets = {
        "thumb": {"w": "256", "h": "256", "fit": "cover"},
        "card": {"w": "640", "h": "360", "fit": "cover"},
        "hero": {"w": "1920"},
    }
    presets |= {f"social{i}": {"w": "1200", "h": "630", "fit": "cover", "fm": "auto", "q": "80"} for i in range(5)}
    size = len(construct.render(code, KVS_ID, deployed_config(presets)).encode())
    assert size <= construct.CODE_BUDGET_BYTES, f"{size} bytes"
    print(f"deployed with eight presets: {size} bytes")
    for doc in vector_docs():
        config = {"presets": doc["config"]["presets"], "unsigned": doc["config"]["unsigned"], "signed": True}
        assert len(construct.render(code, KVS_ID, config).encode()) <= construct.CODE_BUDGET_BYTES


def test_the_info_function_is_small_and_fits_the_budget(construct: Any) -> None:
    code = construct.minified_info(EDGE)
    assert code.count(TOKEN) == 1 and code.isascii()
    policy = Policy.from_config({"prefixes": [f"team{i}/" for i in range(50)], "unsigned": {"info": False}})
    rendered = construct.render(code, None, construct.info_config(policy))
    assert '"unsigned":{"info":false}' in rendered and '"signed":true' in rendered
    assert len(rendered.encode()) <= construct.CODE_BUDGET_BYTES // 4, f"{len(rendered.encode())} bytes"
    print(f"info function with 50 prefixes: {len(rendered.encode())} bytes")


def test_config_placeholder_appears_exactly_once(construct: Any) -> None:
    text = SOURCE.read_text()
    assert text.count(TOKEN) == 1
    assert f"var CONFIG = {TOKEN};" in text.splitlines()
    assert construct.minified(SOURCE).count(TOKEN) == 1
    assert text.isascii() and construct.minified(SOURCE).isascii()


@needs_node
def test_source_and_build_use_only_what_the_runtime_documents() -> None:
    result = run_node(script=CHECKER)
    assert result.returncode == 0, result.stdout + result.stderr
    # the native source and build, each prefixed build's (build.mjs PARTS: native and five dialects), info's
    assert "runtime check: 16 files; 0 problems" in result.stdout


# each construct the checker must refuse, with a part of its message
UNSUPPORTED = {
    "var c = require('crypto');": "'require' is not a global",
    "import fs from 'fs';": "module 'fs'",
    "import { kvs } from 'cloudfront';": "default binding",
    "export { handler };": "ExportNamedDeclaration",
    "async function f(x) { return x; } [1].map(f);": "may only be called",
    "function g(k) { return k(); } async function f() {} g(f);": "may only be called",
    "var f = async (x) => x;": "async functions only as top-level",
    "function outer() { return async function () {}; }": "async functions only as top-level",
    "var x = await Promise.resolve(1);": "await outside an async function",
    "class A {}": "ClassDeclaration",
    "for (var x of [1]) {}": "ForOfStatement",
    "function* g() {}": "generators",
    "var f = (a = 1) => a;": "no defaults or destructuring",
    "var {a} = {a: 1};": "ObjectPattern",
    "var a = [...[1]];": "SpreadElement",
    "var a = 1, o = {a};": "no shorthand",
    "var o = {f() {}};": "no shorthand",
    "var o = {}; var b = o?.x;": "ChainExpression",
    "var a = null ?? 1;": "?? is not supported",
    "var r = /(?<y>\\d+)/;": "named groups",
    "var r = /x/u;": "flags",
    "setTimeout(function () {}, 1);": "'setTimeout' is not a global",
    "fetch('https://example.com');": "'fetch' is not a global",
    "eval('1');": "'eval' is not a global",
    "var f = Function('return 1');": "'Function' is not a global",
    "var h = Object.hasOwn({}, 'a');": "newer than the runtime",
    "var t = String.raw`x`;": "TaggedTemplateExpression",
    "var n = 1n;": "BigInt",
}


@needs_node
def test_the_runtime_check_refuses_unsupported_constructs(tmp_path: Path) -> None:
    handler = "\nasync function handler(event) { return event.request; }\n"
    files = []
    for index, snippet in enumerate(UNSUPPORTED):
        path = tmp_path / f"case{index}.js"
        path.write_text(snippet + handler)
        files.append(path)
    (tmp_path / "fine.js").write_text(
        "import cf from 'cloudfront';\nimport crypto from 'crypto';\nconst a = [1, 2].map((x) => x ** 2);\n"
        "let t = `${a}`;\nfunction f(...rest) { return rest.length; }" + handler
    )
    result = run_node(*map(str, files), str(tmp_path / "fine.js"), script=CHECKER)
    assert result.returncode == 1
    for path, message in zip(files, UNSUPPORTED.values(), strict=True):
        lines = [line for line in result.stdout.splitlines() if line.startswith(f"{path}:")]
        assert any(message in line for line in lines), f"{path.read_text()!r}: {lines}"
    assert f"{tmp_path / 'fine.js'}:" not in result.stdout
    missing = tmp_path / "nohandler.js"
    missing.write_text("var a = 1;\n")
    result = run_node(str(missing), script=CHECKER)
    assert result.returncode == 1 and "no top-level function handler" in result.stdout, result.stdout


# ---------------------------------------------------------------------------------------------------
# a seeded differential corpus: generated requests, expectations from the Python route

GOOD_PATHS = ["/photos/cat.jpg", "/a+b.jpg", "/caf%C3%A9%20menu.jpg", "/%F0%9F%98%80.png", "/it's(1)*!~.jpg"]
BAD_PATHS = [
    "/photos%2Fcat.jpg",
    "/%FF.jpg",
    "/%C3.jpg",
    "/%ED%A0%80.jpg",
    "/%zz.jpg",
    "/a%0Ab.jpg",
    "/a/../b.jpg",
    "/a//b.jpg",
    "/_vf/cat.jpg",
    "/a/_vf/b/c.jpg",
    "/",
    "/x.jpg/_vf/original",
    "/x.jpg/_vf/w=100",
    "/x.jpg/_vf/w=100,h=50,fit=contain",
    "/x.jpg/_vf/h=50,w=100",
    "/x.jpg/_vf/fm=auto-webp",
    "/x.jpg/_vf/",
    "/x.jpg/_vf/w=800,dpr=2",
    "/x.jpg/_vf/fx=0.5",
    "/x.jpg/_vf/w=10,h=10,fx=0.25,fy=0.5",
    "/x.jpg/_vf/bogus",
    "/x.jpg/_vf/w=0400",
    "/x.jpg/_vf/blur=2.50",
    "/x.jpg/_vf/w=641",
    "/x.jpg/_vf/w=640,fm=webp",
]
# name -> (values that parse, values that do not)
VALUES: dict[str, tuple[list[str], list[str]]] = {
    "w": (["1", "320", "400", "640", "641", "0400", "8192"], ["8193", "0", "abc", "-5", "40.5", "", "1000000"]),
    "h": (["1", "200", "300", "480", "8192"], ["8193", "", "x"]),
    "dpr": (["1", "1.0", "1.5", "2", "2.625", "3", "4", "01.50", "1.00000", "auto"], ["4.0001", "0.5", "x", "AUTO"]),
    "fit": (["cover", "contain", "fill", "inside", "outside"], ["crop", "Cover"]),
    "pos": (["center", "centre", "top", "north", "southwest", "attention", "entropy"], ["middle"]),
    "fx": (["0", "0.0", "1", "1.0", "0.25", "0.3333", "0.5000"], ["1.5", ".5", "0.12345"]),
    "fy": (["0", "1", "0.75", "0000.5"], ["2"]),
    "enlarge": (["0", "1", "true", "false"], ["yes", "True"]),
    "fm": (["auto", "auto", "jpg", "jpeg", "png", "webp", "avif", "gif", "auto-webp", "auto-avif-webp"], ["WEBP"]),
    "q": (["1", "75", "100", "070"], ["0", "101", "auto", "auto:low"]),
    "blur": (["0.3", "2", "100", "100.0", "0100"], ["0.29", "100.0001"]),
    "sharpen": (["0.3", "1.5", "10"], ["10.5"]),
    "rot": (["0", "90", "180", "270", "090"], ["45"]),
    "flip": (["h", "v", "hv", "vh"], ["x"]),
    "bg": (["fff", "F0a", "%23112233", "#112233", "112233FF", "11223380"], ["red", "12345"]),
    "p": (["thumb", "hero"], ["nope", "Thumb", "constructor", "__proto__"]),
    "exp": (["1800000000", "01800000000", "1700000000"], ["soon"]),
    "s": ([], ["k1.abc", "k9." + "A" * 43]),
    "width": ([], ["400"]),
    "v": ([], ["3"]),
    "": ([], ["5"]),
    "%FF": ([], ["1"]),
    "w+": ([], ["1"]),
    "%77": (["400"], []),
}
SPEC_NAMES = "w h dpr fit pos fx fy enlarge fm q blur sharpen rot flip bg p exp".split()
# Sec-CH-Width / Sec-CH-DPR header values, as browsers send them and not
HINT_WIDTH_VALUES = [
    *("1", "320", "375", "640", "641", "828", "1279", "3840", "5000"),
    *("0", " 700 ", "1.5", "-5", "", "99999", "123456"),
]
HINT_DPR_VALUES = [
    *("1", "1.25", "1.5", "2", "2.625", "3", "1.100000023841858"),
    *("7", "0.5", "", "abc", "2e0", " 2 ", "-2", "99"),
]
ACCEPTS = [
    None,
    "",
    "*/*",
    "image/avif,image/webp,image/apng,image/*,*/*;q=0.8",
    "image/webp,*/*",
    "image/avif",
    "image/avif;q=0,image/webp",
    "Image/AVIF , image/webp;q=0.9",
    "image/webp;q=0.0001",
    "image/webp;q=1e-400",
    "image/webp;q=inf",
    "image/webp;q=INFINITY",
    "image/webp;q=nan",
    "image/webp;q=1_0",
    "image/webp;q=0x1",
    "image/webp;q",
    "image/webp;q=",
    "image/webp; q = .5 ",
    "image/webp;q=5.",
    "image/webp;Q=0",
    "image/webp;q=-1",
    "image/webp;q=0;q=1",
    "image/webp;q=1;q=0",
    "image/webp\x1c",
    "image/jxl,image/avif;q=+0.5",
    "image/webp;q=1__0",
]


def _encode(text: str, rng: random.Random) -> str:
    roll = rng.random()
    if roll < 0.15:
        return quote(text, safe="")
    if roll < 0.2:
        return text.replace(" ", "+")
    return text


def _expect(
    path: str, query: str, accept: str | None, policy: Policy, now: float, hints: dict[str, str] | None = None
) -> dict[str, Any]:
    try:
        # the function always reads the hint headers: absent ones are Hints() (same spec as no hints)
        result = route(path, query, accept, policy, now=now, hints=Hints(**(hints or {})))
    except VipsfrontError as error:
        return {"error": {"status": int(error.status), "param": error.param}}
    return {
        "key": result.key,
        "canonical": result.spec.canonical(),
        "variant_key": result.variant_key,
        "uri": result.uri,
        "vary_accept": result.vary_accept,
    }


def _cloudfront_rebuilt(query: str) -> str:
    """The query as rebuilt from CloudFront's parsed object: grouped by name, empty pieces gone."""
    groups: dict[str, list[str]] = {}
    for piece in query.split("&"):
        if piece:
            name, _, value = piece.partition("=")
            groups.setdefault(name, []).append(value)
    return "&".join(f"{name}={value}" for name, values in groups.items() for value in values)


def _signature(rng: random.Random, path: str, query: str, config: dict[str, Any]) -> str | None:
    """A valid signature for the request's spec, when it parses, so the signed paths are exercised."""
    kid = rng.choice(sorted(config["keys"]))
    try:
        request = parse_query(query, presets=config["presets"])
        key = path.lstrip("/")
        spec: Spec = request.spec
        return sign(key, spec, kid, config["keys"][kid].encode(), request.expires)
    except Exception:
        return None


def generated_cases(config: dict[str, Any], rng: random.Random, count: int) -> list[dict[str, Any]]:
    policy = Policy.from_config(config)
    cases = []
    for index in range(count):
        path = rng.choice(GOOD_PATHS if rng.random() < 0.8 else BAD_PATHS)
        names = rng.sample(sorted(VALUES) if rng.random() < 0.1 else SPEC_NAMES, k=rng.choice([0, 1, 2, 2, 3, 3, 4, 5]))
        if rng.random() < 0.05 and names:
            names.append(names[0])  # a duplicate
        pieces = []
        for name in names:
            good, bad = VALUES[name]
            value = rng.choice(good if good and (not bad or rng.random() < 0.9) else bad)
            pieces.append(f"{_encode(name, rng)}={_encode(value, rng)}")
        if rng.random() < 0.05:
            pieces.insert(rng.randrange(len(pieces) + 1), "")  # an empty piece
        if rng.random() < 0.03:
            pieces.append("bg=" + "a" * rng.choice([2030, 2045, 2100]))  # around the length limit
        query = "&".join(pieces)
        if config["keys"] and rng.random() < 0.3 and "s=" not in query and "/_vf/" not in path:
            signature = _signature(rng, path, query, config)
            if signature:
                query += "&s=" + signature
        accept = rng.choice(ACCEPTS)
        url = path + ("?" + query if query or rng.random() < 0.1 else "")
        hints = {}
        if rng.random() < 0.4:
            hints["width"] = rng.choice(HINT_WIDTH_VALUES)
        if rng.random() < 0.4:
            hints["dpr"] = rng.choice(HINT_DPR_VALUES)
        expect = _expect(path, query, accept, policy, config["now"], hints)
        case: dict[str, Any] = {"name": f"generated {index}", "url": url, "accept": accept, "expect": expect}
        if hints:
            case["hints"] = hints
        if _expect(path, _cloudfront_rebuilt(query), accept, policy, config["now"], hints) != expect:
            case["fallback"] = False
        cases.append(case)
    return cases


@needs_node
def test_generated_requests_match_the_python_route(tmp_path: Path) -> None:
    rng = random.Random(20260901)
    total = 0
    for source in sorted(VECTORS.glob("*.json")):
        config = json.loads(source.read_text())["config"]
        cases = generated_cases(config, rng, 600)
        total += len(cases)
        (tmp_path / f"generated-{source.stem}.json").write_text(json.dumps({"config": config, "cases": cases}))
    result = run_node(str(tmp_path))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert summary(result.stdout)[0] == total


# info paths: generated keys, percent-encoded as viewers do and not, expectations from keys.parse_info_path

INFO_PIECES = [
    "a",
    "Z9",
    "photos",
    "-._",
    " ",
    "+",
    "%",
    "~",
    "~20",
    "~7E",
    "é",
    "写",
    "\U0001f600",
    "'()*!",
    "=,",
    ":&@$;",
]
INFO_BAD = ["", ".", "..", "_vf", "\n", "\x7f", "%FF", "%C3", "%ED%A0%80", "%zz"]


def _info_path(rng: random.Random) -> str:
    segments = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        segment = "".join(rng.choice(INFO_PIECES) for _ in range(rng.randint(1, 4)))
        roll = rng.random()
        if roll < 0.1:
            segment = rng.choice(INFO_BAD)
        elif roll < 0.6:
            segment = quote(segment, safe=rng.choice(["", "~", "~+'()*!", "/"]))
        segments.append(segment if segment.isascii() else quote(segment, safe="%~"))
    path = "/_vf/info/" + "/".join(segments)
    return path + "x" * rng.choice([0, 0, 0, 880, 895, 905]) if rng.random() < 0.1 else path


def _info_expect(path: str) -> dict[str, Any]:
    try:
        key = parse_info_path(path)
    except VipsfrontError as error:
        return {"error": {"status": int(error.status), "param": error.param}}
    return {"key": key, "uri": info_path(key)}


@needs_node
def test_generated_info_paths_match_the_python_reading(tmp_path: Path) -> None:
    rng = random.Random(20260920)
    cases = [
        {"name": f"generated {i}", "url": path, "expect": _info_expect(path)}
        for i in range(400)
        for path in [_info_path(rng)]
    ]
    assert 40 < sum("error" in case["expect"] for case in cases) < 360
    config = {"now": 1790000000, "presets": {}, "keys": {}, "unsigned": {}}
    (tmp_path / "info").mkdir()
    (tmp_path / "info" / "generated.json").write_text(json.dumps({"config": config, "cases": cases}))
    result = run_node(str(tmp_path / "info"))
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert summary(result.stdout)[0] == len(cases)
