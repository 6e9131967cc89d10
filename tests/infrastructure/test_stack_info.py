"""The ``/_vf/info/*`` cache behaviour: its own viewer-request function, straight to the Function URL.

CloudFront compares a request's path with the behaviours' patterns in their order and takes the first
that matches, so ``/_vf/info/*`` must come before ``*/_vf/*`` (the canonical path form, with dialects),
which matches it too. Its function (``functions/edge/info_request.js``) rewrites the path to the key's
origin form (``/{origin form}/_vf/info``); nothing in the variants bucket answers that path, so the
behaviour's origin is the function's URL alone, with the cache key and policies of the others.
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "cdk"))

aws_cdk = pytest.importorskip("aws_cdk")

from aws_cdk.assertions import Template  # noqa: E402
from distribution_template import behaviour, distribution_config  # noqa: E402

from vipsfront.config.kinds import DIALECTS  # noqa: E402
from vipsfront_cdk import Settings, VipsfrontStack  # noqa: E402
from vipsfront_cdk.edge_function import CODE_BUDGET_BYTES, PLACEHOLDER  # noqa: E402

INFO = "/_vf/info/*"


def synth(**settings: Any) -> Template:
    app = aws_cdk.App()
    stack = VipsfrontStack(app, "Vipsfront", settings=Settings(bundle=False, **settings))
    app.synth()
    return Template.from_stack(stack)


def first_match(config: dict[str, Any], path: str) -> str:
    """The pattern of the behaviour CloudFront applies to ``path``: ``*`` any characters, ``?`` one."""
    for item in config["CacheBehaviors"]:
        regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in item["PathPattern"])
        if re.fullmatch(regex, path):
            return item["PathPattern"]
    return "*"


@pytest.fixture(scope="module")
def default() -> Template:
    return synth()


def test_the_info_behaviour_goes_to_the_function_url_through_its_own_function(default: Template) -> None:
    config = distribution_config(default)
    info = behaviour(config, INFO)
    (group,) = config["OriginGroups"]["Items"]
    fallback = group["Members"]["Items"][1]["OriginId"]
    assert info["TargetOriginId"] == fallback  # the function's URL, not the S3-first group
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == group["Id"]
    # cached by the rewritten URI alone, forwarded and answered as every other behaviour
    for key in ("CachePolicyId", "OriginRequestPolicyId", "ResponseHeadersPolicyId", "ViewerProtocolPolicy"):
        assert info[key] == config["DefaultCacheBehavior"][key], key
    ((association),) = info["FunctionAssociations"]
    assert association["EventType"] == "viewer-request"
    functions = default.find_resources("AWS::CloudFront::Function")
    (name,) = [n for n in functions if "InfoRequest" in n]
    assert association["FunctionARN"] == {"Fn::GetAtt": [name, "FunctionARN"]}
    assert config["DefaultCacheBehavior"]["FunctionAssociations"][0]["FunctionARN"] != association["FunctionARN"]


def test_the_info_function_is_the_minified_build_with_the_info_policy(default: Template) -> None:
    functions = default.find_resources("AWS::CloudFront::Function")
    (resource,) = [r for n, r in functions.items() if "InfoRequest" in n]
    properties = resource["Properties"]
    code = properties["FunctionCode"]
    assert isinstance(code, str) and PLACEHOLDER not in code  # no store id to join in: it reads none
    assert "KeyValueStoreAssociations" not in properties["FunctionConfig"]
    assert properties["FunctionConfig"]["Runtime"] == "cloudfront-js-2.0"
    assert properties["AutoPublish"] is True
    config = json.loads(re.search(r"=(\{.*?\}\}?),\w+=", code).group(1))  # type: ignore[union-attr]
    assert config == {"prefixes": None, "unsigned": {"info": True}, "signed": True}
    assert "function rewrite(" in code and "function handler(" in code
    assert len(code.encode()) <= CODE_BUDGET_BYTES // 4


@pytest.mark.parametrize(
    ("path", "pattern"),
    [
        ("/_vf/info/photos/my%20cat.jpg", INFO),
        ("/_vf/info/a/_vf/w=10", INFO),
        ("/_vf/health", "/_vf/health"),
        ("/photos/cat.jpg", "*"),
        ("/photos/my~20cat.jpg/_vf/info", "*"),  # a viewer's origin-form path: the native function (400)
    ],
)
def test_cloudfront_picks_the_info_behaviour_for_info_paths(default: Template, path: str, pattern: str) -> None:
    assert first_match(distribution_config(default), path) == pattern


def test_with_dialects_the_info_behaviour_comes_before_the_canonical_path_form() -> None:
    config = distribution_config(synth(dialects=DIALECTS.parse('{"/": "imgix", "/thumbor/": "thumbor"}')))
    patterns = [b["PathPattern"] for b in config["CacheBehaviors"]]
    assert patterns.index(INFO) < patterns.index("*/_vf/*")
    assert first_match(config, "/_vf/info/photos/cat.jpg") == INFO
    assert first_match(config, "/photos/my~20cat.jpg/_vf/info") == "*/_vf/*"
