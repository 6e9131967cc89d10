"""Settings: read once from the environment, validated, then passed to the core as values.

Every variable is a row of ``vipsfront.config.table`` (``docs/settings.md`` is generated from it):
``Settings.from_env`` reads the environment by it, the Lambda-only variables too (memory, architecture,
prices), and ``Settings.to_env`` writes it (the CDK renders the Lambda's environment with it, so a
deployment is checked by the same rules the function starts with). A ``VIPSFRONT_*`` variable the table
does not know stops start-up, naming the closest known one. The checks between settings follow the read.

Pure: no engine, no libvips, no AWS SDK, so the CDK can import it at synth.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import reduce
from typing import Any

from vipsfront.config.cost import Architecture, CostModel, Prices
from vipsfront.config.table import PREFIX, VARIABLES, Variable
from vipsfront.engine.limits import Limits
from vipsfront.url.dialects.choice import Dialects
from vipsfront.url.policy import Policy, UnsignedPolicy

DEFAULT_ORIGINALS_BUCKET = "vipsfront-originals"
DEFAULT_VARIANTS_BUCKET = "vipsfront-variants"
DEFAULT_LAMBDA_MEMORY_MB = 1024  # the cost model's memory when neither Lambda nor the stack says
DAY_S = 86400

# Powertools' service and CloudWatch namespace of the function's metrics; the CDK dashboard reads them.
SERVICE_NAME = "vipsfront"
METRICS_NAMESPACE = "Vipsfront"


class ConfigError(ValueError):
    """A setting is malformed or unknown; raised at start-up, never per request."""


@dataclass(frozen=True, slots=True)
class Settings:
    """The origin's settings; each field's variable, kind and meaning are in ``vipsfront.config.table``."""

    originals_bucket: str = DEFAULT_ORIGINALS_BUCKET
    variants_bucket: str = DEFAULT_VARIANTS_BUCKET
    policy: Policy = field(default_factory=Policy.create)
    dialects: Dialects = field(default_factory=Dialects)
    limits: Limits = field(default_factory=Limits)
    variant_lookup: bool = True
    trust_path_form: bool = False
    store_originals: bool = True
    cache_control: str = "public, max-age=31536000, immutable"
    error_cache_control: str = "public, max-age=60"
    payload_limit: int = 6_291_456  # bytes of a synchronous Lambda response (6 MB), base64 body and headers
    cors_origins: tuple[str, ...] = ()
    request_budget_s: float = 25.0  # below the Lambda timeout
    max_concurrent_transforms: int = 0  # 0: one per CPU core
    client_hints: bool = True
    demo: bool = False
    s3_endpoint: str | None = None
    region: str | None = None
    memory_mb: int | None = None
    architecture: Architecture = Architecture.ARM64
    prices: Prices = field(default_factory=Prices)
    vips_concurrency: int | None = None
    browser_max_age: int = 3600  # s; no purge reaches a browser
    shared_max_age: int = 7 * DAY_S  # s; at most the variants' expiry
    variants_expiry_days: int = 30
    distribution_id: str | None = None
    eager_presets: tuple[str, ...] = ()
    metadata_gps: bool = False
    metadata_personal: bool = False
    invalidation_wildcard_above: int = 20
    fallback_key: str | None = None
    fallback_for: tuple[int, ...] = (404,)
    fallback_status: int = 200
    fallback_max_age: int = 60  # s

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
        """Settings from the table's variables; raise ``ConfigError`` naming a bad or unknown one."""
        _refuse_unknown(env)
        values: dict[str, Any] = {}
        for variable in VARIABLES:
            name, raw = _first_set(env, variable)
            if raw:
                try:
                    values[variable.path] = variable.kind.parse(raw)
                except ValueError as error:
                    raise ConfigError(f"{name}: {error}") from None
        try:
            settings = _assemble(values)
        except (ValueError, TypeError) as error:
            raise ConfigError(str(error)) from error
        if "shared_max_age" not in values:  # its default is at most the variants' expiry
            settings = replace(
                settings, shared_max_age=min(settings.shared_max_age, settings.variants_expiry_days * DAY_S)
            )
        settings.check()
        return settings

    def check(self) -> None:
        """Raise ``ConfigError`` when settings that are each well-formed disagree with one another."""
        expiry_s = self.variants_expiry_days * DAY_S
        if self.shared_max_age > expiry_s:
            raise ConfigError(
                f"{PREFIX}SHARED_MAX_AGE ({self.shared_max_age} s) must not exceed the variants' expiry "
                f"({self.variants_expiry_days} days = {expiry_s} s): the CDN would hold variants the purge cannot list"
            )
        unknown = [name for name in self.eager_presets if name not in self.policy.presets]
        if unknown:
            raise ConfigError(f"{PREFIX}EAGER_PRESETS: no preset named {unknown[0]!r} in {PREFIX}PRESETS")

    def to_env(self) -> dict[str, str]:
        """The variables ``from_env`` reads back as these settings: only those away from their default.

        Fields without a variable (encoder efforts, threads) are not rendered; nor is the region, which
        Lambda sets itself.
        """
        default = Settings()
        env: dict[str, str] = {}
        for variable in VARIABLES:
            value = field_value(self, variable.path)
            if variable.written and value != field_value(default, variable.path):
                env[variable.name] = variable.kind.render(value)
        return env

    def cache_control_for(self, *, versioned: bool, purged: bool = True) -> str:
        """``Cache-Control`` of a variant: a versioned URL never changes (``cache_control``, a year,
        immutable); an unversioned one is kept ``browser_max_age`` by browsers, which no purge reaches,
        and ``shared_max_age`` by CloudFront, which the lifecycle's invalidations keep honest. A URL the
        invalidations cannot name (``purged`` false: a dialect URL CloudFront caches as sent) is kept no
        longer by CloudFront than by browsers."""
        if versioned:
            return self.cache_control
        if not purged:
            return f"public, max-age={self.browser_max_age}"
        return f"public, max-age={self.browser_max_age}, s-maxage={self.shared_max_age}"

    def cost_model(self) -> CostModel:
        """What one request costs on this function (its memory, architecture and prices)."""
        return CostModel(
            prices=self.prices,
            memory_mb=self.memory_mb or DEFAULT_LAMBDA_MEMORY_MB,
            architecture=self.architecture,
            variant_lookup=self.variant_lookup,
        )


def field_value(settings: Settings, path: str) -> Any:
    """The value of the field at a dotted path (``"policy.unsigned.widths"``)."""
    return reduce(getattr, path.split("."), settings)


def _first_set(env: Mapping[str, str], variable: Variable) -> tuple[str, str]:
    """The first of the variable's names set to some text, and that text (stripped); else ``(name, "")``."""
    for name in variable.names:
        raw = env.get(name, "").strip()
        if raw:
            return name, raw
    return variable.name, ""


def _assemble(values: Mapping[str, Any]) -> Settings:
    """Settings from values by field path, each nested value by its own constructor; the rest defaults."""

    def under(prefix: str) -> dict[str, Any]:
        return {
            path.removeprefix(prefix): value
            for path, value in values.items()
            if path.startswith(prefix) and "." not in path.removeprefix(prefix)
        }

    policy = Policy.create(unsigned=UnsignedPolicy(**under("policy.unsigned.")), **under("policy."))
    return Settings(policy=policy, limits=Limits(**under("limits.")), prices=Prices(**under("prices.")), **under(""))


def _refuse_unknown(env: Mapping[str, str]) -> None:
    """Raise ``ConfigError`` for each ``VIPSFRONT_*`` variable the table does not know (a typo would
    otherwise start the origin with the default, unsigned for ``VIPSFRONT_SIGNING_KEY``)."""
    known = {name.removeprefix(PREFIX): name for v in VARIABLES for name in v.names if name.startswith(PREFIX)}
    unknown = sorted(name for name in env if name.upper().startswith(PREFIX) and name not in known.values())
    if unknown:
        raise ConfigError("; ".join(_unknown(name, known) for name in unknown))


def _unknown(name: str, known: Mapping[str, str]) -> str:
    import difflib  # on this error path only: a start-up with known variables does not pay for it

    close = difflib.get_close_matches(name.upper().removeprefix(PREFIX), known, n=1)
    if close:
        return f"unknown setting {name}: did you mean {known[close[0]]}?"
    return f"unknown setting {name} (docs/settings.md lists them)"
