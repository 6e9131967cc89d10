"""Settings: read once from the environment, validated, then passed to the core as values.

Every variable shares the ``VIPSFRONT_`` prefix; S3 itself is configured with the standard AWS variables
(``AWS_ENDPOINT_URL_S3``, ``AWS_REGION``/``AWS_DEFAULT_REGION``, credentials). The README's table lists
them; this module is the one place that reads them (``Settings.from_env``), the Lambda-only ones too
(memory, architecture, prices), and the one place that writes them (``Settings.to_env``: the CDK renders
the Lambda's environment with it, so a deployment is checked by the same rules the function starts with).

Pure: no engine, no libvips, no AWS SDK, so the CDK can import it at synth.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

from vipsfront.config.cost import Architecture, CostModel, Prices
from vipsfront.errors import VipsfrontError
from vipsfront.engine.limits import Limits
from vipsfront.url.policy import Policy, UnsignedPolicy, check_params, check_prefixes
from vipsfront.url.query import check_presets
from vipsfront.url.signing import format_keys, parse_keys
from vipsfront.url.spec import MAX_SIDE

PREFIX = "VIPSFRONT_"
PRICE_PREFIX = "VIPSFRONT_PRICE_"
DEFAULT_ORIGINALS_BUCKET = "vipsfront-originals"
DEFAULT_VARIANTS_BUCKET = "vipsfront-variants"
DEFAULT_CACHE_CONTROL = "public, max-age=31536000, immutable"
DEFAULT_ERROR_CACHE_CONTROL = "public, max-age=60"
DEFAULT_BROWSER_MAX_AGE = 3600  # s: how long a browser keeps an unversioned variant (no purge reaches it)
DEFAULT_VARIANTS_EXPIRY_DAYS = 30  # the variants bucket's lifecycle expiry (the stack sets it from this)
DEFAULT_SHARED_MAX_AGE = 7 * 86400  # s: CloudFront's lifetime of an unversioned variant (s-maxage)
DAY_S = 86400
DEFAULT_LAMBDA_MEMORY_MB = 1024  # the cost model's memory when neither Lambda nor the stack says
LAMBDA_RESPONSE_LIMIT = 6_291_456  # bytes of a synchronous Lambda response (6 MB), base64 body and headers
MAX_REQUEST_BUDGET_S = 900.0  # Lambda's longest timeout

# Powertools' service and CloudWatch namespace of the function's metrics; the CDK dashboard reads them.
SERVICE_NAME = "vipsfront"
METRICS_NAMESPACE = "Vipsfront"


class ConfigError(ValueError):
    """A setting is malformed; raised at start-up, never per request."""


def parse_presets(raw: str | Mapping[str, Any]) -> dict[str, dict[str, str]]:
    """Presets from JSON text (or its parsed value), each checked by the URL grammar.

    ``{"thumb": {"w": "200", "h": "200"}}``; numbers are accepted for values. Raise ``ConfigError``.
    """
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise ConfigError('presets must be a JSON object like {"thumb": {"w": "200", "h": "200"}}') from None
    if not isinstance(raw, Mapping) or not all(isinstance(v, Mapping) for v in raw.values()):
        raise ConfigError('presets must look like {"thumb": {"w": "200", "h": "200"}}')
    presets = {str(name): {str(k): _preset_value(v) for k, v in params.items()} for name, params in raw.items()}
    for name, params in presets.items():
        try:
            check_presets({name: params})
        except (ValueError, VipsfrontError) as error:
            raise ConfigError(f"preset {name!r}: {error}") from None
    return presets


def _preset_value(value: Any) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ConfigError(f"preset values must be strings or numbers, not {value!r}")
    return str(value)


def parse_sizes(raw: str | list[Any] | tuple[Any, ...]) -> tuple[int, ...] | None:
    """A size list: ``"640,320"`` or a list of numbers, sorted; ``""``/``"*"``: any size; ``"none"``: none."""
    if isinstance(raw, str):
        text = raw.strip()
        if text in ("", "*"):
            return None
        if text == "none":
            return ()
        raw = text.split(",")
    try:
        sizes = tuple(sorted({int(str(v).strip()) for v in raw if str(v).strip()}))
    except ValueError:
        raise ConfigError(f"must be a comma list of pixel sizes from 1 to {MAX_SIDE}") from None
    UnsignedPolicy(widths=sizes)  # the policy's own range check
    return sizes


def parse_params(raw: str | Mapping[str, Any]) -> dict[str, tuple[str, ...] | None] | None:
    """The unsigned parameters' allow-list from JSON text (or its parsed value); ``"*"``: every one.

    ``{"fit": "*", "pos": ["center", "top"], "fm": "*", "q": ["auto"]}``: a parameter absent is refused
    unsigned; ``"*"`` allows each of its values. Raise ``ConfigError``.
    """
    if isinstance(raw, str):
        if raw.strip() == "*":
            return None
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError:
            raise ConfigError('must be "*" or a JSON object like {"fm": "*", "q": ["auto"]}') from None
    if not isinstance(raw, Mapping):
        raise ConfigError('must be "*" or a JSON object like {"fm": "*", "q": ["auto"]}')
    try:
        params = check_params(raw)
    except ValueError as error:
        raise ConfigError(str(error)) from None
    return None if params is None else dict(params)


def parse_prefixes(raw: str | list[Any] | tuple[Any, ...]) -> tuple[str, ...] | None:
    """Key prefixes: ``"public/,shop/"`` or a list; ``""``/``"*"``: every key. Raise ``ConfigError``."""
    if isinstance(raw, str):
        if raw.strip() in ("", "*"):
            return None
        raw = raw.split(",")
    try:
        return check_prefixes(str(p).strip() for p in raw if str(p).strip())
    except ValueError as error:
        raise ConfigError(str(error)) from None


def parse_origins(raw: str) -> tuple[str, ...]:
    """CORS origins: ``"*"`` or a comma list of ``scheme://host[:port]``; ``""``: none."""
    origins = tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())
    for origin in origins:
        if origin != "*" and not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", origin):
            raise ConfigError(f"must be '*' or origins like https://www.example.com, not {origin!r}")
    return origins


def _render_sizes(sizes: tuple[int, ...] | None) -> str:
    if sizes is None:
        return "*"
    return ",".join(map(str, sizes)) if sizes else "none"


def _render_number(value: float) -> str:
    return format(value, "g") if isinstance(value, float) else str(value)


@dataclass(frozen=True, slots=True)
class Settings:
    originals_bucket: str = DEFAULT_ORIGINALS_BUCKET
    variants_bucket: str = DEFAULT_VARIANTS_BUCKET
    policy: Policy = field(default_factory=Policy.create)
    limits: Limits = field(default_factory=Limits)
    variant_lookup: bool = True  # off behind CloudFront's S3-first origin group, which already looked
    trust_path_form: bool = False  # on behind the edge function, which already checked the signature
    store_originals: bool = True  # copy no-param requests to the variants bucket so S3-first serves them
    cache_control: str = DEFAULT_CACHE_CONTROL
    error_cache_control: str = DEFAULT_ERROR_CACHE_CONTROL
    payload_limit: int = LAMBDA_RESPONSE_LIMIT  # bytes of a response; a variant past it is stored, then a 307
    cors_origins: tuple[str, ...] = ()  # origins whose CORS preflights (OPTIONS) are answered; "*": any
    request_budget_s: float = 25.0  # wall-clock budget of one request, below the Lambda timeout
    # store a miss's variant after its response has gone (serve); off in Lambda, which must store before returning
    store_after_response: bool = True
    # transforms at once: per process, or for the whole tree under ``serve --workers N``; 0: one per CPU core
    max_concurrent_transforms: int = 0
    client_hints: bool = True  # Sec-CH-Width / Sec-CH-DPR fill in a missing w / dpr (see vipsfront.url.route)
    demo: bool = False  # serve the demo page at /_vf/demo (it lists the originals: local use only)
    s3_endpoint: str | None = None
    region: str | None = None
    # Lambda only: the function's shape, for the cost model and libvips' threads
    memory_mb: int | None = None  # AWS_LAMBDA_FUNCTION_MEMORY_SIZE, else VIPSFRONT_LAMBDA_MEMORY_MB
    architecture: Architecture = Architecture.ARM64
    prices: Prices = field(default_factory=Prices)
    vips_concurrency: int | None = None  # VIPS_CONCURRENCY, which libvips reads itself
    # the life of an original (vipsfront.lifecycle.changes): caching, purge and ingest
    browser_max_age: int = DEFAULT_BROWSER_MAX_AGE  # unversioned URLs' max-age
    shared_max_age: int = DEFAULT_SHARED_MAX_AGE  # unversioned URLs' s-maxage: at most the variants' expiry
    variants_expiry_days: int = DEFAULT_VARIANTS_EXPIRY_DAYS
    distribution_id: str | None = None  # the CloudFront distribution the purge invalidates (none: no CDN)
    eager_presets: tuple[str, ...] = ()  # presets made at ingest, in every format fm=auto resolves to
    metadata_gps: bool = False  # keep GPS in info documents and manifests (personal data: opt in)
    metadata_personal: bool = False  # keep artist, copyright, owner and serial numbers (opt in)
    invalidation_wildcard_above: int = 20  # more variants than this: one wildcard path per original

    @property
    def transform_slots(self) -> int:
        """How many transforms may run at once: ``max_concurrent_transforms``, or one per CPU core."""
        return max(1, self.max_concurrent_transforms or os.cpu_count() or 1)

    @classmethod
    def load(cls) -> Settings:
        """Settings from this process's environment."""
        return cls.from_env(os.environ)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from ``VIPSFRONT_*`` variables; raise ``ConfigError`` naming a bad one."""
        try:
            reader = _Reader(env)
            return cls._from_env(reader)._with_lifecycle(reader)
        except ConfigError:
            raise
        except (ValueError, TypeError, KeyError) as error:
            raise ConfigError(str(error)) from error

    @classmethod
    def _from_env(cls, r: _Reader) -> Settings:
        keys = r.parse("SIGNING_KEYS", parse_keys, "")
        presets = r.parse("PRESETS", parse_presets, "{}")
        d = UnsignedPolicy()
        unsigned = UnsignedPolicy(
            widths=r.parse("UNSIGNED_WIDTHS", parse_sizes, "") if r.raw("UNSIGNED_WIDTHS") else d.widths,
            heights=r.parse("UNSIGNED_HEIGHTS", parse_sizes, "") if r.raw("UNSIGNED_HEIGHTS") else d.heights,
            max_side=r.optional_integer("UNSIGNED_MAX_SIDE", lo=1, hi=MAX_SIDE),
            presets_only=r.flag("UNSIGNED_PRESETS_ONLY", d.presets_only),
            params=r.parse("UNSIGNED_PARAMS", parse_params, "") if r.raw("UNSIGNED_PARAMS") else d.params,
            full_size=r.flag("UNSIGNED_FULL_SIZE", d.full_size),
            originals=r.flag("UNSIGNED_ORIGINALS", d.originals),
            info=r.flag("UNSIGNED_INFO", d.info),
        )
        prefixes = r.parse("KEY_PREFIXES", parse_prefixes, "")
        vips_concurrency = r.optional_integer("VIPS_CONCURRENCY", prefix="", lo=1, hi=1024)
        limits = Limits(
            max_input_pixels=r.integer("MAX_INPUT_PIXELS", 100_000_000, lo=1),
            max_input_bytes=r.integer("MAX_INPUT_BYTES", 50 * 1024 * 1024, lo=1),
            max_output_side=r.integer("MAX_OUTPUT_SIDE", MAX_SIDE, lo=1, hi=MAX_SIDE),
            max_frames=r.integer("MAX_FRAMES", 100, lo=1),
            allow_svg=r.flag("ALLOW_SVG", False),
            allow_pdf=r.flag("ALLOW_PDF", False),
        )
        memory = r.optional_integer("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", prefix="", lo=128) or r.optional_integer(
            "LAMBDA_MEMORY_MB", lo=128, hi=10_240
        )
        return cls(
            originals_bucket=r.text("ORIGINALS_BUCKET", DEFAULT_ORIGINALS_BUCKET),
            variants_bucket=r.text("VARIANTS_BUCKET", DEFAULT_VARIANTS_BUCKET),
            policy=Policy.create(keys, unsigned, presets, prefixes),
            limits=limits,
            variant_lookup=r.flag("VARIANT_LOOKUP", True),
            trust_path_form=r.flag("TRUST_PATH_FORM", False),
            store_originals=r.flag("STORE_ORIGINALS", True),
            cache_control=r.text("CACHE_CONTROL", DEFAULT_CACHE_CONTROL),
            error_cache_control=r.text("ERROR_CACHE_CONTROL", DEFAULT_ERROR_CACHE_CONTROL),
            payload_limit=r.integer("PAYLOAD_LIMIT", LAMBDA_RESPONSE_LIMIT, lo=4096),
            cors_origins=r.parse("CORS_ORIGINS", parse_origins, ""),
            request_budget_s=r.number("REQUEST_BUDGET_S", 25.0, hi=MAX_REQUEST_BUDGET_S),
            store_after_response=r.flag("STORE_AFTER_RESPONSE", True),
            max_concurrent_transforms=r.integer("MAX_CONCURRENT_TRANSFORMS", 0, lo=0, hi=1024),
            client_hints=r.flag("CLIENT_HINTS", True),
            demo=r.flag("DEMO", False),
            s3_endpoint=r.env.get("AWS_ENDPOINT_URL_S3") or r.env.get("AWS_ENDPOINT_URL") or None,
            region=r.env.get("AWS_REGION") or r.env.get("AWS_DEFAULT_REGION") or None,
            memory_mb=memory,
            architecture=r.parse("LAMBDA_ARCH", Architecture.parse, "arm64"),
            prices=r.prices(),
            vips_concurrency=vips_concurrency,
        )

    def to_env(self) -> dict[str, str]:
        """The variables ``from_env`` reads back as these settings: only those away from their default.

        Limits without a variable (encoder efforts, threads) are not rendered; nor is the region, which
        Lambda sets itself.
        """
        default = Settings()
        env: dict[str, str] = {}

        def put(name: str, value: Any, default_value: Any, render: Callable[[Any], str] = str) -> None:
            if value != default_value:
                env[name] = render(value)

        def flag(value: bool) -> str:
            return "1" if value else "0"

        p, u, d = self.policy, self.policy.unsigned, default.policy.unsigned
        put(PREFIX + "ORIGINALS_BUCKET", self.originals_bucket, default.originals_bucket)
        put(PREFIX + "VARIANTS_BUCKET", self.variants_bucket, default.variants_bucket)
        put(PREFIX + "SIGNING_KEYS", dict(p.keys), {}, format_keys)
        put(PREFIX + "PRESETS", {k: dict(v) for k, v in p.presets.items()}, {}, _json)
        put(PREFIX + "UNSIGNED_WIDTHS", u.widths, d.widths, _render_sizes)
        put(PREFIX + "UNSIGNED_HEIGHTS", u.heights, d.heights, _render_sizes)
        put(PREFIX + "UNSIGNED_MAX_SIDE", u.max_side, d.max_side)
        put(PREFIX + "UNSIGNED_PRESETS_ONLY", u.presets_only, d.presets_only, flag)
        put(PREFIX + "UNSIGNED_PARAMS", u.params, d.params, _render_params)
        put(PREFIX + "UNSIGNED_FULL_SIZE", u.full_size, d.full_size, flag)
        put(PREFIX + "UNSIGNED_ORIGINALS", u.originals, d.originals, flag)
        put(PREFIX + "UNSIGNED_INFO", u.info, d.info, flag)
        put(PREFIX + "KEY_PREFIXES", p.prefixes, None, ",".join)
        lim, dlim = self.limits, default.limits
        put(PREFIX + "MAX_INPUT_PIXELS", lim.max_input_pixels, dlim.max_input_pixels)
        put(PREFIX + "MAX_INPUT_BYTES", lim.max_input_bytes, dlim.max_input_bytes)
        put(PREFIX + "MAX_OUTPUT_SIDE", lim.max_output_side, dlim.max_output_side)
        put(PREFIX + "MAX_FRAMES", lim.max_frames, dlim.max_frames)
        put(PREFIX + "ALLOW_SVG", lim.allow_svg, dlim.allow_svg, flag)
        put(PREFIX + "ALLOW_PDF", lim.allow_pdf, dlim.allow_pdf, flag)
        put(PREFIX + "VARIANT_LOOKUP", self.variant_lookup, default.variant_lookup, flag)
        put(PREFIX + "TRUST_PATH_FORM", self.trust_path_form, default.trust_path_form, flag)
        put(PREFIX + "STORE_ORIGINALS", self.store_originals, default.store_originals, flag)
        put(PREFIX + "CACHE_CONTROL", self.cache_control, default.cache_control)
        put(PREFIX + "ERROR_CACHE_CONTROL", self.error_cache_control, default.error_cache_control)
        put(PREFIX + "PAYLOAD_LIMIT", self.payload_limit, default.payload_limit)
        put(PREFIX + "CORS_ORIGINS", self.cors_origins, default.cors_origins, ",".join)
        put(PREFIX + "REQUEST_BUDGET_S", self.request_budget_s, default.request_budget_s, _render_number)
        put(PREFIX + "STORE_AFTER_RESPONSE", self.store_after_response, default.store_after_response, flag)
        put(PREFIX + "MAX_CONCURRENT_TRANSFORMS", self.max_concurrent_transforms, default.max_concurrent_transforms)
        put(PREFIX + "CLIENT_HINTS", self.client_hints, default.client_hints, flag)
        put(PREFIX + "DEMO", self.demo, default.demo, flag)
        put("AWS_ENDPOINT_URL_S3", self.s3_endpoint, None)
        put(PREFIX + "LAMBDA_MEMORY_MB", self.memory_mb, None)
        put(PREFIX + "LAMBDA_ARCH", self.architecture, default.architecture, lambda a: a.value)
        for f in fields(Prices):
            value = getattr(self.prices, f.name)
            put(PRICE_PREFIX + f.name.upper(), value, getattr(default.prices, f.name), _render_number)
        put("VIPS_CONCURRENCY", self.vips_concurrency, None)
        put(PREFIX + "BROWSER_MAX_AGE", self.browser_max_age, default.browser_max_age)
        put(PREFIX + "SHARED_MAX_AGE", self.shared_max_age, default.shared_max_age)
        put(PREFIX + "VARIANTS_EXPIRY_DAYS", self.variants_expiry_days, default.variants_expiry_days)
        put(PREFIX + "DISTRIBUTION_ID", self.distribution_id, None)
        put(PREFIX + "EAGER_PRESETS", self.eager_presets, (), ",".join)
        put(PREFIX + "METADATA_GPS", self.metadata_gps, False, flag)
        put(PREFIX + "METADATA_PERSONAL", self.metadata_personal, False, flag)
        put(PREFIX + "INVALIDATION_WILDCARD_ABOVE", self.invalidation_wildcard_above, 20)
        return env

    def _with_lifecycle(self, r: _Reader) -> Settings:
        """These settings with the lifecycle's variables read and checked against each other."""
        expiry = r.integer("VARIANTS_EXPIRY_DAYS", DEFAULT_VARIANTS_EXPIRY_DAYS)
        if expiry < 1:
            raise ConfigError(f"{PREFIX}VARIANTS_EXPIRY_DAYS must be at least 1 day")
        browser = r.integer("BROWSER_MAX_AGE", DEFAULT_BROWSER_MAX_AGE)
        shared = r.integer("SHARED_MAX_AGE", min(DEFAULT_SHARED_MAX_AGE, expiry * DAY_S))
        if browser < 0 or shared < 0:
            raise ConfigError(f"{PREFIX}BROWSER_MAX_AGE and {PREFIX}SHARED_MAX_AGE are seconds, not negative")
        if shared > expiry * DAY_S:
            raise ConfigError(
                f"{PREFIX}SHARED_MAX_AGE ({shared} s) must not exceed the variants' expiry "
                f"({expiry} days = {expiry * DAY_S} s): the CDN would hold variants the purge cannot list"
            )
        eager = tuple(name.strip() for name in r.raw("EAGER_PRESETS").split(",") if name.strip())
        unknown = [name for name in eager if name not in self.policy.presets]
        if unknown:
            raise ConfigError(f"{PREFIX}EAGER_PRESETS: no preset named {unknown[0]!r} in {PREFIX}PRESETS")
        wildcard_above = r.integer("INVALIDATION_WILDCARD_ABOVE", 20)
        if wildcard_above < 0:
            raise ConfigError(f"{PREFIX}INVALIDATION_WILDCARD_ABOVE must be 0 or more")
        return replace(
            self,
            browser_max_age=browser,
            shared_max_age=shared,
            variants_expiry_days=expiry,
            distribution_id=r.raw("DISTRIBUTION_ID") or None,
            eager_presets=eager,
            metadata_gps=r.flag("METADATA_GPS", False),
            metadata_personal=r.flag("METADATA_PERSONAL", False),
            invalidation_wildcard_above=wildcard_above,
        )

    def cache_control_for(self, *, versioned: bool) -> str:
        """``Cache-Control`` of a variant: a versioned URL never changes (``cache_control``, a year,
        immutable); an unversioned one is kept ``browser_max_age`` by browsers, which no purge reaches,
        and ``shared_max_age`` by CloudFront, which the lifecycle's invalidations keep honest."""
        if versioned:
            return self.cache_control
        return f"public, max-age={self.browser_max_age}, s-maxage={self.shared_max_age}"

    def cost_model(self) -> CostModel:
        """What one request costs on this function (its memory, architecture and prices)."""
        return CostModel(
            prices=self.prices,
            memory_mb=self.memory_mb or DEFAULT_LAMBDA_MEMORY_MB,
            architecture=self.architecture,
            variant_lookup=self.variant_lookup,
        )


def _json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _render_params(params: Mapping[str, tuple[str, ...] | None] | None) -> str:
    if params is None:
        return "*"
    return _json({name: "*" if values is None else list(values) for name, values in params.items()})


def _range(lo: int | None, hi: int | None) -> str:
    if lo is not None and hi is not None:
        return f"from {lo:,} to {hi:,}"
    if lo is not None:
        return f"of at least {lo:,}"
    return f"of at most {hi:,}" if hi is not None else ""


class _Reader:
    """Reads variables of one environment, each error naming its variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def raw(self, name: str, prefix: str = PREFIX) -> str:
        return self.env.get(prefix + name, "").strip()

    def text(self, name: str, default: str) -> str:
        return self.raw(name) or default

    def parse(self, name: str, parse: Callable[[str], Any], default: str, prefix: str = PREFIX) -> Any:
        try:
            return parse(self.raw(name, prefix) or default)
        except ValueError as error:
            raise ConfigError(f"{prefix}{name}: {error}") from None

    def flag(self, name: str, default: bool) -> bool:
        raw = (self.raw(name) or ("1" if default else "0")).lower()
        if raw not in ("0", "1", "true", "false", "yes", "no"):
            raise ConfigError(f"{PREFIX}{name} must be 0 or 1")
        return raw in ("1", "true", "yes")

    def integer(
        self, name: str, default: int, prefix: str = PREFIX, *, lo: int | None = None, hi: int | None = None
    ) -> int:
        """A whole number within ``lo..hi`` (either end open when ``None``)."""
        raw = self.raw(name, prefix)
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            value = None
        if value is None or (lo is not None and value < lo) or (hi is not None and value > hi):
            raise ConfigError(f"{prefix}{name} must be a whole number {_range(lo, hi)}, not {raw!r}")
        return value

    def optional_integer(
        self, name: str, prefix: str = PREFIX, *, lo: int | None = None, hi: int | None = None
    ) -> int | None:
        return self.integer(name, 0, prefix, lo=lo, hi=hi) if self.raw(name, prefix) else None

    def number(self, name: str, default: float, *, hi: float = math.inf) -> float:
        """A positive finite number up to ``hi``."""
        raw = self.raw(name)
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or not 0 < value <= hi:
            bound = f" up to {_render_number(hi)}" if math.isfinite(hi) else ""
            raise ConfigError(f"{PREFIX}{name} must be a positive number{bound}, not {raw!r}")
        return value

    def prices(self) -> Prices:
        """The default prices, each overridden by its ``VIPSFRONT_PRICE_<FIELD>`` when set."""
        values = {f.name: self.price(f.name) for f in fields(Prices)}
        return Prices(**{name: value for name, value in values.items() if value is not None})

    def price(self, name: str) -> float | None:
        """``VIPSFRONT_PRICE_<NAME>``: a non-negative number of USD, or ``None`` when unset."""
        variable = PRICE_PREFIX + name.upper()
        raw = self.env.get(variable, "").strip()
        if not raw:
            return None
        try:
            value = float(raw)
        except ValueError:
            raise ConfigError(f"{variable} must be a number of USD, not {raw!r}") from None
        if not math.isfinite(value) or value < 0:
            raise ConfigError(f"{variable} must be a non-negative number of USD")
        return value
