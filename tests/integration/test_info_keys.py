"""``/_vf/info/{key}`` for keys that need percent-encoding, end to end at the origin.

Behind CloudFront the ``/_vf/info/*`` behaviour's function (``functions/edge/info_request.js``) rewrites
the viewer's path to ``/{origin form of key}/_vf/info`` (``keys.info_path``), which the Function URL behind
origin access control receives unchanged. Each case of ``tests/vectors/info/*.json``, which the function
passes under node too, goes through the app both ways: the viewer's path (local serve, direct requests)
and the rewritten one must answer the same info document, or the same error.
"""

from __future__ import annotations

import base64
import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import pyvips
from lambda_events import FakeLambdaContext, body_bytes, function_url_event
from mangum import Mangum
from test_app import Origin, photo

from vipsfront.config.settings import Settings
from vipsfront.url.keys import info_path
from vipsfront.url.policy import Policy

VECTORS = Path(__file__).resolve().parents[1] / "vectors" / "info"
CASES = [
    pytest.param(doc["config"], case, id=f"{path.stem}: {case['name']}")
    for path in sorted(VECTORS.glob("*.json"))
    for doc in [json.loads(path.read_text())]
    for case in doc["cases"]
]


def test_the_vectors_exist() -> None:
    assert len(CASES) >= 30


@pytest.mark.parametrize(("config", "case"), CASES)
def test_viewer_path_and_origin_form_answer_alike(s3: Any, config: dict[str, Any], case: dict[str, Any]) -> None:
    origin = Origin(s3, replace(Settings(), policy=Policy.from_config(config)))
    expect = case["expect"]
    viewer = origin.client.get(case["url"])
    if "error" in expect:
        assert viewer.status_code == expect["error"]["status"]
        assert viewer.json()["param"] == expect["error"]["param"]
        return
    assert info_path(expect["key"]) == expect["uri"]  # the Python twin of the function's rewrite
    origin.put(expect["key"], photo(64, 48))
    rewritten = origin.client.get(expect["uri"])
    assert rewritten.status_code == 200
    viewer = origin.client.get(case["url"])
    assert viewer.status_code == 200
    assert rewritten.json() == viewer.json()


def test_the_origin_form_names_the_key_it_decodes_to(s3: Any) -> None:
    origin = Origin(s3, Settings())
    origin.put("写真/it's (1)*!+é.jpg", photo(64, 48))
    origin.put("写真/it~27s.jpg", photo(32, 32))  # the origin form of the first, read as a plain key
    rewritten = origin.client.get("/~E5~86~99~E7~9C~9F/it~27s~20~281~29~2A~21~2B~C3~A9.jpg/_vf/info")
    assert rewritten.status_code == 200
    body = rewritten.json()
    assert (body["width"], body["height"]) == (64, 48)
    placeholder = pyvips.Image.new_from_buffer(base64.b64decode(body["placeholder"]["data_url"].split(",", 1)[1]), "")
    assert placeholder.width == 32 and placeholder.height < 32  # decodes: the landscape original it names
    plain = origin.client.get("/_vf/info/%E5%86%99%E7%9C%9F/it's%20(1)*!+%C3%A9.jpg")
    assert plain.json() == body
    # a '~' in the viewer's path is the key's own: the other original, whose origin form is ~7E
    tilde = origin.client.get("/_vf/info/%E5%86%99%E7%9C%9F/it~27s.jpg").json()
    assert (tilde["width"], tilde["height"]) == (32, 32)
    assert origin.client.get("/~E5~86~99~E7~9C~9F/it~7E27s.jpg/_vf/info").json() == tilde


@pytest.mark.parametrize(
    "path",
    [
        "/a%25.jpg/_vf/info",  # a percent sign is never in the origin form
        "/a~zz.jpg/_vf/info",  # nor a '~' that is not ~XX
        "/a~2b.jpg/_vf/info",  # lower-case hex
        "/a~FF.jpg/_vf/info",  # bytes that are not UTF-8
        "/a/_vf/w=10/_vf/info",  # a '_vf' segment
    ],
)
def test_a_path_that_is_not_an_origin_form_is_a_bad_key(s3: Any, path: str) -> None:
    origin = Origin(s3, Settings())
    response = origin.client.get(path)
    assert response.status_code == 400
    assert response.json()["param"] == "key"


def test_the_stored_document_is_not_what_the_path_names(s3: Any) -> None:
    """``/{origin form}/_vf/info`` sits beside the variants, but the stored ``info.json`` stays unreachable."""
    origin = Origin(s3, Settings())
    origin.put("photos/cat.jpg", photo())
    assert origin.client.get("/photos/cat.jpg/_vf/info").status_code == 200
    assert origin.variants() == ["photos/cat.jpg/_vf/info.json"]
    assert origin.client.get("/photos/cat.jpg/_vf/info.json").status_code == 400


def test_the_function_url_event_cloudfront_sends_answers_the_document(s3: Any) -> None:
    """The rewritten path as the Function URL hands it to the Lambda (``rawPath``, through Mangum as the
    handler runs the app) answers the document of the key it decodes to."""
    origin = Origin(s3, Settings())
    origin.put("photos/my cat+1.jpg", photo(64, 48))
    handler = Mangum(origin.app, lifespan="off")
    event = function_url_event("/photos/my~20cat~2B1.jpg/_vf/info", accept="*/*")
    response = handler(event, FakeLambdaContext())
    assert response["statusCode"] == 200, response
    body = json.loads(body_bytes(response))
    assert body == origin.client.get("/_vf/info/photos/my%20cat+1.jpg").json()
    assert (body["width"], body["height"]) == (64, 48)
