"""Reading a synthesized stack's CloudFront distribution, for the behaviour tests (dialects, info, origin-only
prefixes). The CDK app is on ``sys.path`` (``conftest.py``); importing this needs ``aws_cdk``."""

from __future__ import annotations

import json
from typing import Any

import aws_cdk
from aws_cdk.assertions import Annotations, Match, Template

from vipsfront.config.kinds import DIALECTS
from vipsfront_cdk import Settings, VipsfrontStack


def synth_dialects(dialects: dict[str, Any]) -> VipsfrontStack:
    """The stack with ``dialects`` (``vipsfront:dialects``'s JSON value), synthesized, unbundled."""
    app = aws_cdk.App()
    stack = VipsfrontStack(
        app, "Vipsfront", settings=Settings(bundle=False, dialects=DIALECTS.parse(json.dumps(dialects)))
    )
    app.synth()
    return stack


def errors(stack: VipsfrontStack) -> list[str]:
    return [str(e.entry.data) for e in Annotations.from_stack(stack).find_error("*", Match.string_like_regexp(".*"))]


def distribution_config(template: Template) -> dict[str, Any]:
    ((_, distribution),) = template.find_resources("AWS::CloudFront::Distribution").items()
    return distribution["Properties"]["DistributionConfig"]


def behaviour(config: dict[str, Any], pattern: str) -> dict[str, Any]:
    (found,) = [b for b in config["CacheBehaviors"] if b["PathPattern"] == pattern]
    return found
