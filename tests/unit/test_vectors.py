"""Every case in tests/vectors/*.json through the Python viewer-request step."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vipsfront.errors import VipsfrontError
from vipsfront.url.policy import Policy
from vipsfront.url.route import Hints, route

VECTORS = Path(__file__).resolve().parents[1] / "vectors"


def load_cases() -> list[Any]:
    params = []
    for file in sorted(VECTORS.glob("*.json")):
        doc = json.loads(file.read_text())
        for case in doc["cases"]:
            params.append(pytest.param(doc["config"], case, id=f"{file.stem}: {case['name']}"))
    return params


CASES = load_cases()


def test_vectors_exist() -> None:
    assert len(CASES) > 100


@pytest.mark.parametrize(("config", "case"), CASES)
def test_vector(config: dict[str, Any], case: dict[str, Any]) -> None:
    path, _, query = case["url"].partition("?")
    expect = case["expect"]
    try:
        hints = Hints(**case["hints"]) if "hints" in case else None  # Sec-CH-Width / Sec-CH-DPR values
        result = route(path, query, case["accept"], Policy.from_config(config), now=config["now"], hints=hints)
    except VipsfrontError as error:
        assert "error" in expect, f"unexpected {type(error).__name__}: {error.message}"
        assert (int(error.status), error.param) == (expect["error"]["status"], expect["error"]["param"])
        return
    assert "error" not in expect, f"expected an error, got {result}"
    got = {
        "key": result.key,
        "canonical": result.spec.canonical(),
        "variant_key": result.variant_key,
        "uri": result.uri,
        "vary_accept": result.vary_accept,
    }
    assert got == expect
