"""CDK context keys: an unknown ``vipsfront:*`` key fails synth naming the closest known one."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "cdk"))

aws_cdk = pytest.importorskip("aws_cdk")

from vipsfront.config.settings import Settings as OriginSettings  # noqa: E402
from vipsfront_cdk import Settings  # noqa: E402
from vipsfront_cdk.config import PARSERS  # noqa: E402


@pytest.mark.parametrize(
    ("key", "says"),
    [
        ("vipsfront:memroyMb", "unknown context key vipsfront:memroyMb: did you mean vipsfront:memoryMb?"),
        ("vipsfront:signingKy", "did you mean vipsfront:signingKey?"),
        ("vipsfront:stackname", "did you mean vipsfront:stackName?"),
        ("vipsfront:zzz", "unknown context key vipsfront:zzz (docs/deploy.md lists them)"),
    ],
)
def test_an_unknown_key_names_the_closest_known_one(key: str, says: str) -> None:
    app = aws_cdk.App(context={key: "3008", "vipsfront:memoryMb": "3008"})
    with pytest.raises(ValueError) as caught:
        Settings.from_context(app.node)
    assert says in str(caught.value)


def test_known_keys_and_other_prefixes_pass() -> None:
    app = aws_cdk.App(context={"vipsfront:stackName": "Images", "vipsfront:memoryMb": "3008", "other:x": "1"})
    assert Settings.from_context(app.node).memory_mb == 3008


def test_every_option_is_read_from_the_context() -> None:
    assert set(PARSERS) == {f.name for f in dataclasses.fields(Settings)}


def test_the_app_exits_with_the_message_before_synth() -> None:
    env = {**os.environ, "CDK_CONTEXT_JSON": json.dumps({"vipsfront:memroyMb": "3008"})}
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=ROOT / "cdk", env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 1
    assert "error: unknown context key vipsfront:memroyMb: did you mean vipsfront:memoryMb?" in result.stderr


@pytest.mark.parametrize(("days", "shared"), [(3, 3 * 86400), (30, 7 * 86400)])
def test_the_origin_keeps_its_cdn_lifetime_within_the_variants_expiry(days: int, shared: int) -> None:
    origin = Settings(bundle=False, variants_expire_days=days).origin_settings("o", "v")
    assert (origin.variants_expiry_days, origin.shared_max_age) == (days, shared)
    assert OriginSettings.from_env(origin.to_env()) == origin


def test_variants_kept_forever_leave_the_origin_its_defaults() -> None:
    origin = Settings(bundle=False, variants_expire_days=0).origin_settings("o", "v")
    assert (origin.variants_expiry_days, origin.shared_max_age) == (30, 7 * 86400)
