"""One rule for signing secrets: the server's keys, the CLI, ``vipsfront.url.builders`` and the JavaScript signer
accept a string or bytes of 16+ characters and refuse anything else with the same message."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from vipsfront.url.signing import check_secret

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")
CASES: list[tuple[str, Any]] = [
    ("string", "0123456789abcdef"),
    ("string", "short"),
    ("string", "caf\u00e9-\u2615-0123456789"),  # characters, not UTF-8 bytes, are counted
    ("string", "\u2615" * 15),
    ("bytes", "00" * 16),
    ("bytes", "00" * 15),
    ("number", 1234567890123456789),
    ("null", None),
]


def python_message(kind: str, value: Any) -> str | None:
    try:
        check_secret(bytes.fromhex(value) if kind == "bytes" else value)
    except ValueError as error:
        return str(error)
    return None


def test_python_rule() -> None:
    messages = [python_message(kind, value) for kind, value in CASES]
    assert messages == [
        None,
        "a signing secret must have 16 or more characters (this one has 5)",
        None,
        "a signing secret must have 16 or more characters (this one has 15)",
        None,
        "a signing secret must have 16 or more characters (this one has 15)",
        "a signing secret must be a string or bytes, not int",
        "a signing secret must be a string or bytes, not NoneType",
    ]


@pytest.mark.skipif(NODE is None, reason="node is not on PATH")
def test_javascript_signer_follows_the_same_rule() -> None:
    payload = json.dumps([{"kind": kind, "value": value} for kind, value in CASES])
    script = ROOT / "clients" / "js" / "test" / "secret_rule.mjs"
    result = subprocess.run(
        [str(NODE), str(script)], input=payload, capture_output=True, text=True, timeout=60, check=True
    )
    got = json.loads(result.stdout)
    expected = [python_message(kind, value) for kind, value in CASES]
    # the type's name is each language's own (int / number, NoneType / null); the rest is the same text
    assert got[:6] == expected[:6]
    assert got[6:] == [
        "a signing secret must be a string or bytes, not number",
        "a signing secret must be a string or bytes, not null",
    ]
