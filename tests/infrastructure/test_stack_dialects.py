"""The stack with ``vipsfront:dialects``: one viewer-request function per cache behaviour.

The canonical path form (``*/_vf/*``) goes to a native function before every prefix's behaviour; each
other prefix has a behaviour ``{prefix}*`` whose function is its dialect's build; the default behaviour
reads the ``"/"`` dialect. Every function fits the budget on its own, except the Serverless Image
Handler's (``dit``), which gets none: its prefix, and one with a secret of its dialect's own, goes to the
Function URL alone (tests/infrastructure/test_stack_origin_dialects.py). The setting reaches the
transform function's environment as ``VIPSFRONT_DIALECTS``.
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
from distribution_template import errors  # noqa: E402
from distribution_template import synth_dialects as synth  # noqa: E402

from vipsfront.config.kinds import DIALECTS  # noqa: E402
from vipsfront_cdk import Settings, VipsfrontStack  # noqa: E402
from vipsfront_cdk.edge_function import CODE_BUDGET_BYTES, PLACEHOLDER  # noqa: E402

MIGRATING = {"/": "imgix", "/thumbor/": "thumbor", "/native/": "native", "/imagor/": "imagor", "/aws/": "aws-sample"}


def function_codes(template: Template) -> dict[str, str]:
    """Each viewer-request function's logical id -> its code, the KeyValueStore id as a placeholder (not the
    /_vf/info/* behaviour's, which tests/infrastructure/test_stack_info.py covers)."""
    codes = {}
    for name, resource in template.find_resources("AWS::CloudFront::Function").items():
        if "InfoRequest" in name:
            continue
        code = resource["Properties"]["FunctionCode"]
        if isinstance(code, dict):  # Fn::Join around the store's id
            code = "".join(part if isinstance(part, str) else "<token>" for part in code["Fn::Join"][1])
        codes[name] = code
    return codes


def config_of(code: str) -> dict[str, Any]:
    match = re.search(r"=(\{\"kvsId\".*?\}),\w+=", code)
    assert match, code[:200]
    return json.loads(match.group(1).replace('"<token>"', '""'))


@pytest.fixture(scope="module")
def migrating() -> VipsfrontStack:
    return synth(MIGRATING)


def test_one_behaviour_per_prefix_after_the_canonical_path_form(migrating: VipsfrontStack) -> None:
    template = Template.from_stack(migrating)
    ((_, distribution),) = template.find_resources("AWS::CloudFront::Distribution").items()
    config = distribution["Properties"]["DistributionConfig"]
    patterns = [b["PathPattern"] for b in config["CacheBehaviors"]]
    # the uncached paths and the info document first, then the canonical path form, then the prefixes
    # longest first (two of the same length cannot both match a path)
    assert patterns == [
        *("/_vf/health", "/_vf/openapi.json", "/_vf/info/*"),
        *("*/_vf/*", "/thumbor/*", "/native/*", "/imagor/*", "/aws/*"),
    ]
    default = config["DefaultCacheBehavior"]
    for behaviour in config["CacheBehaviors"][3:]:
        # the same origin group and policies as the default: one cache key, the rewritten URI
        for key in ("TargetOriginId", "CachePolicyId", "OriginRequestPolicyId", "ResponseHeadersPolicyId"):
            assert behaviour[key] == default[key], key
        assert behaviour["FunctionAssociations"][0]["EventType"] == "viewer-request"
    functions = [b["FunctionAssociations"][0]["FunctionARN"] for b in [default, *config["CacheBehaviors"][3:]]]
    assert len({json.dumps(f, sort_keys=True) for f in functions}) == 6


def test_each_function_is_its_dialects_build_within_the_budget(migrating: VipsfrontStack) -> None:
    assert not errors(migrating)
    template = Template.from_stack(migrating)
    configs = []
    sizes = {}
    for code in function_codes(template).values():
        assert PLACEHOLDER not in code
        config = config_of(code)
        configs.append((config.get("prefix", "/"), config.get("dialect", {}).get("name", "native")))
        sizes[configs[-1]] = len(code.replace("<token>", "x" * 36).encode())
        assert sizes[configs[-1]] <= CODE_BUDGET_BYTES
    print("rendered sizes:", sizes)
    assert sorted(configs) == sorted(
        [
            ("/", "imgix"),
            ("/", "native"),
            ("/thumbor/", "thumbor"),
            ("/imagor/", "imagor"),
            ("/native/", "native"),
            ("/aws/", "aws-sample"),
        ]
    )
    # only the native functions read signatures, so only they are associated with the store
    resources = template.find_resources("AWS::CloudFront::Function")
    for name, code in function_codes(template).items():
        resource = resources[name]
        native = "dialect" not in config_of(code)
        assert ("KeyValueStoreAssociations" in resource["Properties"]["FunctionConfig"]) == native


def test_the_setting_reaches_the_transform_function(migrating: VipsfrontStack) -> None:
    template = Template.from_stack(migrating)
    envs = [
        f["Properties"].get("Environment", {}).get("Variables", {})
        for f in template.find_resources("AWS::Lambda::Function").values()
    ]
    # the transform function, and the lifecycle function, whose environment is the same settings'
    values = [json.loads(env["VIPSFRONT_DIALECTS"]) for env in envs if "VIPSFRONT_DIALECTS" in env]
    assert values and all(value == MIGRATING for value in values)


def test_without_dialects_one_function_and_no_extra_behaviour() -> None:
    template = Template.from_stack(synth({}))
    template.resource_count_is("AWS::CloudFront::Function", 2)  # the viewer request's, and info's
    ((_, distribution),) = template.find_resources("AWS::CloudFront::Distribution").items()
    patterns = [b["PathPattern"] for b in distribution["Properties"]["DistributionConfig"]["CacheBehaviors"]]
    assert patterns == ["/_vf/health", "/_vf/openapi.json", "/_vf/info/*"]


def test_the_context_key_is_read_by_the_runtime_parser() -> None:
    app = aws_cdk.App(context={"vipsfront:dialects": '{"/thumbor/": "thumbor"}'})
    stack = aws_cdk.Stack(app, "S")
    assert Settings.from_context(stack.node).dialects == DIALECTS.parse('{"/thumbor/": "thumbor"}')
    bad = aws_cdk.Stack(aws_cdk.App(context={"vipsfront:dialects": '{"/x/": "gravatar"}'}), "S")
    with pytest.raises(ValueError, match=r"^vipsfront:dialects: dialect of '/x/': 'gravatar' is not one of"):
        Settings.from_context(bad.node)
