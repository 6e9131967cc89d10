"""The edge function words its refusals as the origin does: every 403 and 404 case of
``tests/vectors/*.json``, and the 400s below, get the same message from the CloudFront Function (source
and minified build, under node) as from the Python route. The vectors compare status and parameter; this
compares the text a user reads."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from vipsfront.errors import VipsfrontError
from vipsfront.url.policy import Policy
from vipsfront.url.route import Hints, route

ROOT = Path(__file__).resolve().parents[2]
VECTORS = ROOT / "tests" / "vectors"
NODE = shutil.which("node")
REFUSALS = (403, 404)
# one rule, one message for a value off the grammar or out of range; fm lists what a URL may say
BAD_VALUES = (
    "w=9000",
    "w=400.5",
    "w=0",
    "h=-1",
    "dpr=5&w=10",
    "dpr=1.23456&w=10",
    "fm=tiff",
    "fm=auto-png",
    "blur=0.1",
)

# Runs each case through the function's handler, in its source and minified forms; prints one JSON
# list per form: the error message of each case (null when the request passed).
SCRIPT = """
import fs from 'node:fs';
import { load, configFor, makeEvent, stubStore } from './functions/edge/run_vectors.mjs';
import { build, SOURCE_PATH } from './functions/edge/build.mjs';
const docs = JSON.parse(fs.readFileSync(0, 'utf8'));
const source = fs.readFileSync(SOURCE_PATH, 'utf8');
const out = [];
for (const code of [source, await build(source)]) {
  const messages = [];
  for (const doc of docs) {
    const store = stubStore(Object.fromEntries(Object.entries(doc.config.keys).map(([k, v]) => ['key:' + k, v])));
    const fn = load(configFor(doc.config), { store, now: doc.config.now, code });
    for (const c of doc.cases) {
      const hints = c.hints ? { width: c.hints.width ?? null, dpr: c.hints.dpr ?? null } : null;
      const answer = await fn.handler(makeEvent(c.url, c.accept, { hints }));
      messages.push(answer.statusCode ? JSON.parse(answer.body.data).error : null);
    }
  }
  out.push(messages);
}
console.log(JSON.stringify(out));
"""


def python_message(config: dict[str, Any], case: dict[str, Any]) -> str | None:
    path, _, query = case["url"].partition("?")
    hints = Hints(**case["hints"]) if "hints" in case else None
    try:
        route(path, query, case["accept"], Policy.from_config(config), now=config["now"], hints=hints)
    except VipsfrontError as error:
        return error.message
    return None


@pytest.mark.skipif(NODE is None, reason="node is not on PATH: the edge function cannot run")
def test_every_refusal_reads_the_same_at_the_edge_and_the_origin() -> None:
    docs = [json.loads(path.read_text()) for path in sorted(VECTORS.glob("*.json"))]
    bad = [
        {"url": f"/photos/cat.jpg?{query}", "accept": None, "expect": {"error": {"status": 400}}}
        for query in BAD_VALUES
    ]
    docs.append({"config": docs[0]["config"], "cases": bad})
    cases = [(doc["config"], case) for doc in docs for case in doc["cases"]]
    assert NODE is not None
    result = subprocess.run(
        [NODE, "--input-type=module", "-e", SCRIPT],
        input=json.dumps(docs),
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    expected = [python_message(config, case) for config, case in cases]
    for form, messages in zip(("source", "minified"), json.loads(result.stdout), strict=True):
        differ = [
            f"{case['url']}: origin {want!r}, edge {got!r}"
            for (_, case), want, got in zip(cases, expected, messages, strict=True)
            if (case in bad or case["expect"].get("error", {}).get("status") in REFUSALS) and got != want
        ]
        assert not differ, f"{form}: {len(differ)} messages differ:\n" + "\n".join(differ[:20])
