"""Settings from the environment: defaults, every variable, and clear errors."""

from __future__ import annotations

import json
from dataclasses import fields

import pytest

from vipsfront.config.cost import Architecture, Prices
from vipsfront.config.kinds import parse_presets
from vipsfront.config.settings import ConfigError, Settings
from vipsfront.config.table import VARIABLES
from vipsfront.engine.limits import Limits
from vipsfront.url.breakpoints import BREAKPOINT_WIDTHS
from vipsfront.url.policy import DEFAULT_UNSIGNED_PARAMS, Policy, UnsignedPolicy
from vipsfront.url.spec import Spec


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
            "VIPSFRONT_PAYLOAD_LIMIT": "123456",
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
    assert settings.payload_limit == 123456
    assert (settings.s3_endpoint, settings.region) == ("http://127.0.0.1:5000", "eu-west-1")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("VIPSFRONT_PRESETS", "not json"),
        ("VIPSFRONT_PRESETS", '{"t": {"w": "0"}}'),
        ("VIPSFRONT_SIGNING_KEYS", "k1:short"),
        ("VIPSFRONT_UNSIGNED_WIDTHS", "a,b"),
        ("VIPSFRONT_VARIANT_LOOKUP", "maybe"),
        ("VIPSFRONT_UNSIGNED_WIDTHS", "0,320"),
        ("VIPSFRONT_UNSIGNED_HEIGHTS", "320,9000"),
        ("VIPSFRONT_UNSIGNED_MAX_SIDE", "0"),
        ("VIPSFRONT_MAX_OUTPUT_SIDE", "9000"),
        ("VIPSFRONT_VARIANT_LOOKUP", "maybe"),
        ("VIPSFRONT_MAX_INPUT_PIXELS", "lots"),
        ("VIPSFRONT_REQUEST_BUDGET_S", "-1"),
        ("VIPSFRONT_LAMBDA_ARCH", "mips"),
        ("VIPSFRONT_LAMBDA_MEMORY_MB", "0"),
        ("VIPSFRONT_PRICE_S3_GET_PER_1000", "abc"),
        ("VIPSFRONT_PRICE_S3_GET_PER_1000", "-1"),
        ("VIPSFRONT_PRICE_S3_GET_PER_1000", "nan"),
        ("VIPSFRONT_PRICE_S3_GET_PER_1000", "inf"),
        ("VIPSFRONT_MAX_OUTPUT_SIDE", "abc"),
        ("VIPSFRONT_MAX_OUTPUT_SIDE", "0"),
        ("VIPSFRONT_MAX_INPUT_BYTES", "-1"),
        ("VIPSFRONT_MAX_INPUT_PIXELS", "0"),
        ("VIPSFRONT_MAX_FRAMES", "0"),
        ("VIPSFRONT_REQUEST_BUDGET_S", "0"),
        ("VIPSFRONT_REQUEST_BUDGET_S", "100000"),
        ("VIPSFRONT_PAYLOAD_LIMIT", "-1"),
        ("VIPSFRONT_PAYLOAD_LIMIT", "5.5e6"),
        ("VIPSFRONT_MAX_CONCURRENT_TRANSFORMS", "-1"),
        ("VIPS_CONCURRENCY", "0"),
        ("VIPSFRONT_UNSIGNED_PARAMS", "not json"),
        ("VIPSFRONT_UNSIGNED_PARAMS", '{"w": "*"}'),
        ("VIPSFRONT_UNSIGNED_PARAMS", '{"quality": "*"}'),
        ("VIPSFRONT_UNSIGNED_PARAMS", '{"q": ["101"]}'),
        ("VIPSFRONT_UNSIGNED_PARAMS", "[1, 2]"),
        ("VIPSFRONT_UNSIGNED_PARAMS", '"fm"'),
        ("VIPSFRONT_UNSIGNED_PARAMS", '{"fm": ["jpg"]}'),
        ("VIPSFRONT_UNSIGNED_PARAMS", '{"fm": "webp"}'),
        ("VIPSFRONT_UNSIGNED_FULL_SIZE", "sometimes"),
        ("VIPSFRONT_KEY_PREFIXES", "public"),
        ("VIPSFRONT_KEY_PREFIXES", "/public/"),
        ("VIPSFRONT_CORS_ORIGINS", "example.com"),
    ],
)
def test_bad_values_name_the_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: value})
    assert name in str(caught.value)


@pytest.mark.parametrize(
    ("presets", "reason"),
    [
        ('{"thumb": {"w": "abc"}}', "preset 'thumb': w must be"),
        ('{"thumb": {"zoom": "2"}}', "preset 'thumb'"),
        ('{"thumb": {"w": "200", "s": "k1.x"}}', "preset 'thumb'"),
        ('{"Thumb!": {"w": "200"}}', "preset"),
        ('{"thumb": {"w": true}}', "strings or numbers"),
        ("[1]", "must look like"),
    ],
)
def test_presets_are_checked_by_the_url_grammar(presets: str, reason: str) -> None:
    with pytest.raises(ConfigError, match="VIPSFRONT_PRESETS") as caught:
        Settings.from_env({"VIPSFRONT_PRESETS": presets})
    assert reason in str(caught.value)
    with pytest.raises(ValueError):
        parse_presets(presets)


def test_lambda_shape_and_prices() -> None:
    settings = Settings.from_env(
        {
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "3008",
            "VIPSFRONT_LAMBDA_MEMORY_MB": "1024",  # the runtime's own figure wins
            "VIPSFRONT_LAMBDA_ARCH": "x86_64",
            "VIPSFRONT_PRICE_EGRESS_PER_GB": "0.02",
            "VIPSFRONT_PRICE_LAMBDA_GB_S_ARM64": " 0.00001 ",
            "VIPSFRONT_PRICE_S3_PUT_PER_1000": "",
            "VIPS_CONCURRENCY": "3",
            "UNRELATED": "x",
        }
    )
    assert settings.memory_mb == 3008 and settings.architecture is Architecture.X86_64
    assert settings.vips_concurrency == 3
    assert settings.prices == Prices(egress_per_gb=0.02, lambda_gb_s_arm64=0.00001)
    model = settings.cost_model()
    assert (model.memory_mb, model.architecture, model.prices) == (3008, Architecture.X86_64, settings.prices)
    assert Settings.from_env({"VIPSFRONT_LAMBDA_MEMORY_MB": "2048"}).memory_mb == 2048
    assert Settings.from_env({}).cost_model().memory_mb == 1024  # outside Lambda, with no figure


def test_to_env_reads_back_as_the_same_settings() -> None:
    settings = Settings(
        originals_bucket="o",
        variants_bucket="v",
        policy=Policy.create(
            {"k1": b"0123456789abcdef"},
            UnsignedPolicy(
                widths=(320, 640),
                heights=None,
                max_side=2048,
                presets_only=True,
                params={"fm": ["webp"], "q": ["60", "80"], "pos": None},
                full_size=True,
                originals=False,
                info=False,
            ),
            {"thumb": {"w": "100", "h": "100", "fit": "cover"}},
            prefixes=("public/", "shop/"),
        ),
        limits=Limits(max_input_pixels=1000, max_input_bytes=2000, max_output_side=4096, max_frames=7, allow_svg=True),
        variant_lookup=False,
        trust_path_form=True,
        store_originals=False,
        cache_control="public, max-age=60",
        error_cache_control="no-store",
        payload_limit=123456,
        cors_origins=("https://www.example.com",),
        request_budget_s=22.5,
        max_concurrent_transforms=3,
        client_hints=False,
        demo=True,
        s3_endpoint="http://127.0.0.1:5000",
        memory_mb=2048,
        architecture=Architecture.X86_64,
        prices=Prices(
            lambda_gb_s_x86_64=0.00002,
            lambda_gb_s_arm64=0.0000133333,
            lambda_requests_per_million=0.25,
            s3_get_per_1000=0.0005,
            s3_put_per_1000=0.006,
            egress_per_gb=0.02,
        ),
        vips_concurrency=2,
        browser_max_age=0,
        shared_max_age=86400,
        variants_expiry_days=2,
        distribution_id="E1",
        eager_presets=("thumb",),
        metadata_gps=True,
        metadata_personal=True,
        invalidation_wildcard_above=5,
    )
    env = settings.to_env()
    assert Settings.from_env(env) == settings
    assert Settings().to_env() == {}  # defaults render nothing
    assert Settings.from_env({"VIPSFRONT_UNSIGNED_WIDTHS": "*"}).policy.unsigned.widths is None


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("VIPSFRONT_MAX_OUTPUT_SIDE", "abc", "from 1 to 8,192"),
        ("VIPSFRONT_MAX_OUTPUT_SIDE", "0", "from 1 to 8,192"),
        ("VIPSFRONT_MAX_INPUT_BYTES", "-1", "at least 1"),
        ("VIPSFRONT_REQUEST_BUDGET_S", "-1", "positive number up to 900"),
        ("VIPSFRONT_PAYLOAD_LIMIT", "100", "at least 4,096"),
    ],
)
def test_nonsense_numbers_say_the_range(name: str, value: str, says: str) -> None:
    with pytest.raises(ConfigError, match=says) as caught:
        Settings.from_env({name: value})
    assert str(caught.value).startswith(name)
    assert "invalid literal" not in str(caught.value)


def test_unsigned_defaults_are_the_responsive_allow_list() -> None:
    unsigned = Settings.from_env({}).policy.unsigned
    assert unsigned.widths == BREAKPOINT_WIDTHS and unsigned.heights == ()
    assert unsigned.params == DEFAULT_UNSIGNED_PARAMS
    assert (unsigned.full_size, unsigned.originals, unsigned.info) == (False, True, True)
    configured = Settings.from_env(
        {
            "VIPSFRONT_UNSIGNED_PARAMS": '{"fm": "*", "q": [60, 80]}',
            "VIPSFRONT_UNSIGNED_FULL_SIZE": "1",
            "VIPSFRONT_UNSIGNED_ORIGINALS": "0",
            "VIPSFRONT_UNSIGNED_INFO": "0",
            "VIPSFRONT_KEY_PREFIXES": "public/, shop/",
        }
    ).policy
    assert configured.unsigned.params == {"fm": None, "q": ("60", "80")}
    assert configured.prefixes == ("public/", "shop/")
    assert not configured.unsigned.originals and not configured.unsigned.info
    assert Settings.from_env({"VIPSFRONT_UNSIGNED_PARAMS": "*"}).policy.unsigned.params is None


def test_policy_config_round_trips() -> None:
    settings = Settings.from_env(
        {"VIPSFRONT_UNSIGNED_PARAMS": '{"pos": "*", "blur": ["2"]}', "VIPSFRONT_KEY_PREFIXES": "public/"}
    )
    config = settings.policy.to_config()
    assert Policy.from_config(json.loads(json.dumps(config))) == settings.policy
    assert config["unsigned"]["params"] == {"pos": None, "blur": ["2"]}
    assert config["prefixes"] == ["public/"]


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("VIPSFRONT_SIGNING_KEY", "unknown setting VIPSFRONT_SIGNING_KEY: did you mean VIPSFRONT_SIGNING_KEYS?"),
        ("VIPSFRONT_PRICE_EGRESS_PER_TB", "did you mean VIPSFRONT_PRICE_EGRESS_PER_GB?"),
        ("vipsfront_demo", "unknown setting vipsfront_demo: did you mean VIPSFRONT_DEMO?"),
        (
            "VIPSFRONT_STORE_AFTER_RESPONSE",
            "unknown setting VIPSFRONT_STORE_AFTER_RESPONSE",
        ),  # removed: serve stores first
        ("VIPSFRONT_XYZZY", "unknown setting VIPSFRONT_XYZZY (docs/settings.md lists them)"),
    ],
)
def test_an_unknown_variable_stops_start_up_naming_the_closest_known_one(name: str, says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({name: "1", "VIPSFRONT_DEMO": "1"})
    assert says in str(caught.value)


def test_every_unknown_variable_is_named_at_once() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"VIPSFRONT_SIGNING_KEY": "k1:0123456789abcdef", "VIPSFRONT_MEMORY_MB": "1024"})
    assert str(caught.value) == (
        "unknown setting VIPSFRONT_MEMORY_MB: did you mean VIPSFRONT_LAMBDA_MEMORY_MB?; "
        "unknown setting VIPSFRONT_SIGNING_KEY: did you mean VIPSFRONT_SIGNING_KEYS?"
    )


def test_other_prefixes_are_not_ours() -> None:
    settings = Settings.from_env({"VIPS_CONCURRENCY": "2", "AWS_DEFAULT_REGION": "eu-west-1", "VIPSFRONTEND": "x"})
    assert (settings.vips_concurrency, settings.region) == (2, "eu-west-1")


def test_lifecycle_variables_and_their_checks() -> None:
    settings = Settings.from_env(
        {
            "VIPSFRONT_PRESETS": '{"thumb": {"w": "200"}, "card": {"w": "640"}}',
            "VIPSFRONT_EAGER_PRESETS": "thumb, card",
            "VIPSFRONT_BROWSER_MAX_AGE": "0",
            "VIPSFRONT_VARIANTS_EXPIRY_DAYS": "3",
            "VIPSFRONT_DISTRIBUTION_ID": "E123",
            "VIPSFRONT_METADATA_GPS": "yes",
            "VIPSFRONT_INVALIDATION_WILDCARD_ABOVE": "0",
        }
    )
    assert settings.eager_presets == ("thumb", "card")
    assert (settings.browser_max_age, settings.variants_expiry_days) == (0, 3)
    assert settings.shared_max_age == 3 * 86400  # unset: a week, but at most the expiry
    assert settings.distribution_id == "E123" and settings.metadata_gps and not settings.metadata_personal
    assert settings.invalidation_wildcard_above == 0
    assert settings.cache_control_for(versioned=False) == "public, max-age=0, s-maxage=259200"
    assert Settings.from_env(settings.to_env()) == settings
    assert Settings.from_env({}).shared_max_age == 7 * 86400


@pytest.mark.parametrize(
    ("env", "says"),
    [
        (
            {"VIPSFRONT_VARIANTS_EXPIRY_DAYS": "1", "VIPSFRONT_SHARED_MAX_AGE": "86401"},
            "VIPSFRONT_SHARED_MAX_AGE (86401 s) must not exceed the variants' expiry (1 days = 86400 s)",
        ),
        (
            {"VIPSFRONT_PRESETS": '{"thumb": {"w": "200"}}', "VIPSFRONT_EAGER_PRESETS": "thumb,hero"},
            "VIPSFRONT_EAGER_PRESETS: no preset named 'hero' in VIPSFRONT_PRESETS",
        ),
        (
            {"VIPSFRONT_VARIANTS_EXPIRY_DAYS": "0"},
            "VIPSFRONT_VARIANTS_EXPIRY_DAYS: must be a whole number of at least 1",
        ),
        ({"VIPSFRONT_SHARED_MAX_AGE": "-1"}, "VIPSFRONT_SHARED_MAX_AGE: must be a whole number of at least 0"),
        ({"VIPSFRONT_INVALIDATION_WILDCARD_ABOVE": "-1"}, "VIPSFRONT_INVALIDATION_WILDCARD_ABOVE: must be"),
    ],
)
def test_settings_that_disagree_stop_start_up(env: dict[str, str], says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert says in str(caught.value)


def test_the_table_fills_every_setting_once() -> None:
    paths = [variable.path for variable in VARIABLES]
    assert len(paths) == len(set(paths))
    settable = (
        {f.name for f in fields(Settings)} - {"policy", "limits", "prices"}
        | {"policy.keys", "policy.presets", "policy.prefixes"}
        | {f"policy.unsigned.{f.name}" for f in fields(UnsignedPolicy)}
        | {f"limits.{f.name}" for f in fields(Limits)} - {"limits.avif_effort", "limits.webp_effort", "limits.threads"}
        | {f"prices.{f.name}" for f in fields(Prices)}
    )
    assert set(paths) == settable
