"""AWS's documented CloudFront Functions viewer-request event (tests/fixtures/aws/) through the edge function
under node and through its Python twin: both rewrite it to the same canonical URI (the Function URL payload
CloudFront then sends for such a URI is tested in tests/integration/test_handler.py)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from vipsfront.url.policy import Policy
from vipsfront.url.route import route

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "aws"
NODE = shutil.which("node")
CONFIG: dict[str, Any] = {"now": 1_700_000_000, "presets": {"card": {"w": "640", "h": "360"}}, "keys": {}}
RUN = """
import { load, configFor } from './functions/edge/run_vectors.mjs';
const [config, event] = JSON.parse(process.argv[1]);
const fn = load(configFor(config), { now: config.now });
process.stdout.write(JSON.stringify(await fn.handler(event)));
"""


def viewer_request(uri: str, querystring: dict[str, Any]) -> dict[str, Any]:
    """AWS's example event with this request's URI and query (the rest as documented: cookies, a
    multi-value Accept, CloudFront's own headers)."""
    event: dict[str, Any] = json.loads((FIXTURES / "cloudfront_function_viewer_request.json").read_text())
    event["request"].update(uri=uri, querystring=querystring)
    event["request"]["headers"]["accept"] = {
        "value": "image/avif,image/webp,*/*",
        "multiValue": [{"value": "image/avif,image/webp,*/*"}, {"value": "text/html"}],
    }
    return event


def run_edge(event: dict[str, Any]) -> dict[str, Any]:
    if NODE is None:
        pytest.skip("node is not on PATH: the edge function cannot run")
    result = subprocess.run(
        [NODE, "--input-type=module", "-e", RUN, json.dumps([CONFIG, event])],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    answer: dict[str, Any] = json.loads(result.stdout)
    return answer


@pytest.mark.parametrize(
    ("uri", "querystring", "query"),
    [
        ("/photos/cat.jpg", {"w": {"value": "400"}, "fm": {"value": "auto"}}, "w=400&fm=auto"),
        ("/photos/cat.jpg", {"p": {"value": "card"}}, "p=card"),
        ("/photos/my%20cat.jpg", {"w": {"value": "256"}}, "w=256"),
    ],
)
def test_the_documented_event_is_rewritten_as_the_python_route_does(
    uri: str, querystring: dict[str, Any], query: str
) -> None:
    event = viewer_request(uri, querystring)
    request = run_edge(event)
    expected = route(uri, query, "image/avif,image/webp,*/*", Policy.from_config(CONFIG), now=CONFIG["now"])

    assert request["uri"] == expected.uri
    assert request["querystring"] == {}
    assert request["cookies"] == event["request"]["cookies"]  # left as the viewer sent them
    assert request["headers"]["host"] == event["request"]["headers"]["host"]


def test_a_refused_request_is_answered_at_the_edge() -> None:
    answer = run_edge(viewer_request("/photos/cat.jpg", {"w": {"value": "0"}}))
    assert answer["statusCode"] == 400
    assert json.loads(answer["body"]["data"])["param"] == "w"
