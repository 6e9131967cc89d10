"""Dialect prefixes the edge cannot read: a behaviour to the Function URL alone, with no function.

The Serverless Image Handler's build (``dit``) does not fit a CloudFront Function, and a dialect with its
own ``secret`` cannot be checked at the edge (the edge reads no dialect's signatures). Such a prefix's
behaviour ``{prefix}*`` keeps its place in the order (longest prefix first, after the canonical path
form) and goes to the transform function's URL, not the S3-first group: nothing rewrote its URL, so the
cache key is the path, the whole query string and ``Accept`` (an ``auto=format`` URL's format), and the
origin looks the stored variant up itself (tests/integration/test_origin_dialect_lookup.py).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "cdk"))

aws_cdk = pytest.importorskip("aws_cdk")

from aws_cdk.assertions import Annotations, Match, Template  # noqa: E402
from distribution_template import behaviour, distribution_config, errors  # noqa: E402
from distribution_template import synth_dialects as synth  # noqa: E402

from vipsfront_cdk import VipsfrontStack  # noqa: E402

SECRET = "imgix-secret-0123456789"
MIXED = {"/sih/": {"dialect": "dit", "buckets": {"legacy": ""}}, "/thumbor/": "thumbor", "/ix/": "imgix"}


def infos(stack: VipsfrontStack) -> list[str]:
    return [str(e.entry.data) for e in Annotations.from_stack(stack).find_info("*", Match.string_like_regexp(".*"))]


def function_url_origin(config: dict[str, Any]) -> str:
    (group,) = config["OriginGroups"]["Items"]
    return group["Members"]["Items"][1]["OriginId"]


def cache_policy(template: Template, reference: dict[str, Any]) -> dict[str, Any]:
    name = reference["Ref"]
    return template.find_resources("AWS::CloudFront::CachePolicy")[name]["Properties"]["CachePolicyConfig"]


@pytest.fixture(scope="module")
def mixed() -> VipsfrontStack:
    return synth(MIXED)


def assert_origin_only(template: Template, config: dict[str, Any], found: dict[str, Any]) -> None:
    assert "FunctionAssociations" not in found
    assert found["TargetOriginId"] == function_url_origin(config)  # the function's URL, not the S3-first group
    assert "OriginRequestPolicyId" not in found  # what the cache key holds reaches the origin anyway
    canonical = behaviour(config, "*/_vf/*")  # a behaviour with a function, to the S3-first group
    for key in ("ResponseHeadersPolicyId", "ViewerProtocolPolicy", "AllowedMethods", "Compress"):
        assert found.get(key) == canonical.get(key), key
    assert found["CachePolicyId"] != canonical["CachePolicyId"]
    parameters = cache_policy(template, found["CachePolicyId"])["ParametersInCacheKeyAndForwardedToOrigin"]
    assert parameters["QueryStringsConfig"] == {"QueryStringBehavior": "all"}
    assert parameters["HeadersConfig"] == {"HeaderBehavior": "whitelist", "Headers": ["Accept"]}
    assert parameters["CookiesConfig"] == {"CookieBehavior": "none"}


def test_a_dit_prefix_goes_to_the_function_url_in_its_place(mixed: VipsfrontStack) -> None:
    assert not errors(mixed)
    template = Template.from_stack(mixed)
    config = distribution_config(template)
    patterns = [b["PathPattern"] for b in config["CacheBehaviors"]]
    assert patterns == [
        *("/_vf/health", "/_vf/openapi.json", "/_vf/info/*"),
        *("*/_vf/*", "/thumbor/*", "/sih/*", "/ix/*"),
    ]
    assert_origin_only(template, config, behaviour(config, "/sih/*"))
    (group,) = config["OriginGroups"]["Items"]
    for pattern in ("*/_vf/*", "/thumbor/*", "/ix/*"):  # the others are unchanged: a function, the group
        other = behaviour(config, pattern)
        assert other["TargetOriginId"] == group["Id"], pattern
        assert other["FunctionAssociations"][0]["EventType"] == "viewer-request"
        assert other["CachePolicyId"] == config["DefaultCacheBehavior"]["CachePolicyId"]
    (message,) = [m for m in infos(mixed) if "'/sih/'" in m]
    assert "no edge function" in message and "over the 9728-byte budget" in message
    # a function for the default, the canonical form, thumbor, imgix and info: none for dit
    template.resource_count_is("AWS::CloudFront::Function", 4)


def test_a_prefix_with_a_secret_goes_to_the_function_url() -> None:
    stack = synth({"/ix/": {"dialect": "imgix", "secret": SECRET}})
    assert not errors(stack)
    template = Template.from_stack(stack)
    config = distribution_config(template)
    assert [b["PathPattern"] for b in config["CacheBehaviors"]][3:] == ["*/_vf/*", "/ix/*"]
    assert_origin_only(template, config, behaviour(config, "/ix/*"))
    assert any("'/ix/'" in m and "does not check imgix signatures" in m for m in infos(stack))


def test_a_default_dialect_with_a_secret_makes_the_default_behaviour_origin_only() -> None:
    stack = synth({"/": {"dialect": "imgix", "secret": SECRET}})
    assert not errors(stack)
    template = Template.from_stack(stack)
    config = distribution_config(template)
    assert_origin_only(template, config, config["DefaultCacheBehavior"])
    # the canonical path form still reaches the S3-first group through the native function
    canonical = behaviour(config, "*/_vf/*")
    (group,) = config["OriginGroups"]["Items"]
    assert canonical["TargetOriginId"] == group["Id"]
    assert canonical["FunctionAssociations"][0]["EventType"] == "viewer-request"


def test_without_such_a_prefix_no_extra_cache_policy() -> None:
    template = Template.from_stack(synth({"/thumbor/": "thumbor"}))
    template.resource_count_is("AWS::CloudFront::CachePolicy", 1)
