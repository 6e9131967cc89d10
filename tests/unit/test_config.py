"""Settings from the environment: defaults, every variable, and clear errors."""

from __future__ import annotations

import pytest

from vipsfront.config import ConfigError, Settings
from vipsfront.spec import Spec


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings.originals_bucket == "vipsfront-originals"
    assert settings.variant_lookup and not settings.trust_path_form
    assert settings.cache_control == "public, max-age=31536000, immutable"
    assert not settings.policy.signed
    assert settings.limits.max_input_pixels == 100_000_000


def test_every_variable() -> None:
    settings = Settings.from_env(
        {
            "VIPSFRONT_ORIGINALS_BUCKET": "o",
            "VIPSFRONT_VARIANTS_BUCKET": "v",
            "VIPSFRONT_SIGNING_KEYS": "k1:0123456789abcdef",
            "VIPSFRONT_UNSIGNED_WIDTHS": "640, 320",
            "VIPSFRONT_UNSIGNED_HEIGHTS": "none",
            "VIPSFRONT_PRESETS": '{"thumb": {"w": 100, "h": "100"}}',
            "VIPSFRONT_MAX_INPUT_PIXELS": "1000",
            "VIPSFRONT_MAX_INPUT_BYTES": "2000",
            "VIPSFRONT_MAX_FRAMES": "7",
            "VIPSFRONT_VARIANT_LOOKUP": "0",
            "VIPSFRONT_TRUST_PATH_FORM": "1",
            "VIPSFRONT_CACHE_CONTROL": "public, max-age=60",
            "VIPSFRONT_PAYLOAD_LIMIT": "1234",
            "AWS_ENDPOINT_URL_S3": "http://127.0.0.1:5000",
            "AWS_REGION": "eu-west-1",
        }
    )
    assert (settings.originals_bucket, settings.variants_bucket) == ("o", "v")
    assert settings.policy.keys == {"k1": b"0123456789abcdef"}
    assert settings.policy.unsigned.widths == (320, 640)
    assert settings.policy.unsigned.heights == ()
    assert settings.policy.presets == {"thumb": {"w": "100", "h": "100"}}
    assert settings.policy.unsigned.allows(Spec(w=100, h=100), settings.policy.preset_specs)
    assert (settings.limits.max_input_pixels, settings.limits.max_input_bytes) == (1000, 2000)
    assert settings.limits.max_frames == 7
    assert not settings.variant_lookup and settings.trust_path_form
    assert settings.cache_control == "public, max-age=60"
    assert settings.payload_limit == 1234
    assert (settings.s3_endpoint, settings.region) == ("http://127.0.0.1:5000", "eu-west-1")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("VIPSFRONT_PRESETS", "not json"),
        ("VIPSFRONT_PRESETS", '{"t": {"w": "0"}}'),
        ("VIPSFRONT_SIGNING_KEYS", "k1:short"),
        ("VIPSFRONT_UNSIGNED_WIDTHS", "a,b"),
        ("VIPSFRONT_VARIANT_LOOKUP", "maybe"),
        ("VIPSFRONT_MAX_INPUT_PIXELS", "lots"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})
    assert name in str(caught.value) or name == "VIPSFRONT_MAX_INPUT_PIXELS"
