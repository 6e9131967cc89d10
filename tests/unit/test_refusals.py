"""A refusal says what to change: the unsigned policy names the parameter that needs a signature and,
for a size off the ladder, the nearest sizes it serves unsigned; a bad value gets one message per rule,
listing what a URL may say."""

from __future__ import annotations

import pytest

from vipsfront.errors import InvalidSpecError, SignatureError
from vipsfront.url.policy import Policy, UnsignedPolicy
from vipsfront.url.query import parse_query
from vipsfront.url.route import route

KEYS = {"k1": b"0123456789abcdef-refusals"}
POLICY = Policy.create(keys=KEYS, presets={"thumb": {"w": "200", "h": "200", "fm": "webp"}})


def refusal(query: str, policy: Policy = POLICY) -> str:
    with pytest.raises(SignatureError) as refused:
        route("/photos/cat.jpg", query, "image/webp", policy, now=0)
    assert refused.value.param == "s"
    return refused.value.message


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("w=641", "w=641 needs a signed URL (nearest unsigned: 640, 750)"),
        ("w=640&dpr=1.5", "w=960 needs a signed URL (nearest unsigned: 828, 1080)"),
        ("w=8", "w=8 needs a signed URL (nearest unsigned: 16)"),
        ("w=4000", "w=4000 needs a signed URL (nearest unsigned: 3840)"),
        ("w=640&h=480", "h=480 needs a signed URL"),
        ("w=640&q=37", "q=37 needs a signed URL"),
        ("w=640&h=360&pos=attention", "pos=attention needs a signed URL"),
        ("p=thumb&q=90", "q=90 needs a signed URL"),
        ("fm=webp", "a transform without w or h needs a signed URL"),
    ],
)
def test_a_refusal_names_the_parameter_that_needs_a_signature(query: str, message: str) -> None:
    assert refusal(query) == message


def test_the_nearest_sizes_respect_the_largest_side() -> None:
    policy = Policy.create(keys=KEYS, unsigned=UnsignedPolicy(widths=(320, 640, 1280), max_side=800))
    assert refusal("w=1280", policy) == "w=1280 needs a signed URL (nearest unsigned: 640)"
    presets_only = Policy.create(keys=KEYS, unsigned=UnsignedPolicy(presets_only=True))
    assert refusal("w=640", presets_only) == "a transform other than a preset needs a signed URL"


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("w=9000", "w must be a whole number from 1 to 8192"),
        ("w=400.5", "w must be a whole number from 1 to 8192"),
        ("dpr=5&w=10", "dpr must be a number from 1 to 4 with at most 4 decimals"),
        ("dpr=1.23456&w=10", "dpr must be a number from 1 to 4 with at most 4 decimals"),
        ("fm=tiff", "fm must be one of: jpeg, png, webp, avif, gif, auto"),
    ],
)
def test_one_rule_one_message_for_a_bad_value(query: str, message: str) -> None:
    with pytest.raises(InvalidSpecError) as refused:
        parse_query(query)
    assert refused.value.message == message
