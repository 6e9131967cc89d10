"""Deployment settings, read once from CDK context (``cdk deploy -c vipsfront:memoryMb=3008``).

What the function and the edge enforce (presets, widths, the largest side, signing keys) is checked here
by the runtime's own rules (``vipsfront.config``, ``vipsfront.url.policy``, ``vipsfront.url.signing``), so a
bad value fails ``cdk synth`` with a message naming its context key instead of failing every cold start.
``origin_settings`` builds the one object both the Lambda's environment and the edge's config come from.
A ``vipsfront:*`` key that is not read here (``PARSERS``) or by ``app.py`` (``stackName``) fails synth,
naming the closest known key.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from difflib import get_close_matches
from typing import Any

from constructs import Node

from vipsfront.config.cost import Architecture
from vipsfront.config.kinds import DIALECTS, parse_presets, parse_sizes
from vipsfront.config.settings import DAY_S
from vipsfront.config.settings import Settings as OriginSettings
from vipsfront.engine.limits import Limits
from vipsfront.url.breakpoints import BREAKPOINT_WIDTHS
from vipsfront.url.dialects.choice import Dialects
from vipsfront.url.policy import Policy, UnsignedPolicy
from vipsfront.url.signing import check_key_id, parse_keys

PREFIX = "vipsfront:"
APP_KEYS = ("stackName",)  # read by app.py, not a field here

DEFAULT_PRESETS: Mapping[str, Mapping[str, str]] = {
    "thumb": {"w": "256", "h": "256", "fit": "cover"},
    "card": {"w": "640", "h": "360", "fit": "cover"},
    "hero": {"w": "1920"},
}
PRICE_CLASSES = ("100", "200", "All")
TLS_POLICIES = ("TLSv1.2_2021", "TLSv1.2_2019", "TLSv1.2_2018")
DEFAULT_RESERVED_CONCURRENCY = 50
# Lifecycle function: measured ingest rate (one original, eager presets off) and the fixed part of an
# invocation (CloudFront's invalidation backoff stops 10 s before the end); Lambda's timeout is 900 s at most.
INGEST_SECONDS_PER_ORIGINAL = 1.5
LIFECYCLE_BASE_SECONDS = 60
LIFECYCLE_MIN_SECONDS = 300
LAMBDA_MAX_TIMEOUT_S = 900
RESPONSE_MARGIN_S = 3  # the origin's request budget stops this much before Lambda's timeout


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"not a boolean: {value!r}")


def _int(value: Any) -> int:
    return int(str(value).strip())


def _optional_int(value: Any) -> int | None:
    return None if value in (None, "", "none") else _int(value)


def _optional_str(value: Any) -> str | None:
    return None if value in (None, "", "none") else str(value)


def _strs(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else str(value).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip() and str(item).strip() != "none")


@dataclass(frozen=True)
class Settings:
    """Every option the stack takes; each field is the context key ``vipsfront:<field in camelCase>``."""

    originals_bucket: str | None = None
    variants_expire_days: int = 30
    arch: str = "arm64"
    memory_mb: int = 1769  # one full vCPU: the JPEG decode and the WebP encode run on one thread
    timeout_seconds: int = 25
    reserved_concurrency: int | None = DEFAULT_RESERVED_CONCURRENCY
    log_retention_days: int = 30
    bundle: bool = True
    asset_dir: str | None = None
    presets: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: dict(DEFAULT_PRESETS))
    unsigned_widths: tuple[int, ...] | None = BREAKPOINT_WIDTHS
    max_side: int = 8192
    signing_key: str | None = None
    signing_key_id: str = "k1"
    price_class: str = "100"
    origin_shield_region: str | None = None
    cors_origins: tuple[str, ...] = ("*",)
    error_ttl_seconds: int = 10
    errors_alarm_threshold: int = 5
    alarm_email: str | None = None
    cdn_additional_metrics: bool = True
    web_acl_arn: str | None = None
    waf_rate_limit: int = 0
    domain_names: tuple[str, ...] = ()
    certificate_arn: str | None = None
    minimum_tls: str = "TLSv1.2_2021"
    access_logs: bool = False
    access_logs_expire_days: int = 90
    lifecycle: bool = True
    backfill_max_concurrency: int = 40
    backfill_batch_size: int = 20
    backfill_tolerated_failure_percent: int = 5
    eager_presets: tuple[str, ...] = ()
    originals_noncurrent_days: int = 30
    originals_kms_key_arn: str | None = None
    # VIPSFRONT_DIALECTS' value (docs/migrating.md): the origin reads it, the edge builds a function per prefix
    dialects: Dialects = field(default_factory=Dialects)

    def __post_init__(self) -> None:
        # each check is the runtime's own; normalised values replace the given ones
        with _naming("presets"):
            object.__setattr__(self, "presets", parse_presets(self.presets))
        with _naming("unsigned_widths"):
            if self.unsigned_widths is not None:
                object.__setattr__(self, "unsigned_widths", parse_sizes(self.unsigned_widths))
        with _naming("max_side"):
            UnsignedPolicy(max_side=self.max_side)
        with _naming("arch"):
            object.__setattr__(self, "arch", Architecture.parse(self.arch).value)
        with _naming("signing_key_id"):
            check_key_id(self.signing_key_id)
        with _naming("signing_key"):
            if self.signing_key is not None and len(parse_keys(self.signing_key)) != 1:
                raise ValueError("one 'kid:secret' pair")
        if self.price_class not in PRICE_CLASSES:
            raise ValueError(f"{PREFIX}priceClass must be one of {PRICE_CLASSES}, not {self.price_class!r}")
        if not 128 <= self.memory_mb <= 10240:
            raise ValueError(f"{PREFIX}memoryMb must be 128..10240")
        if not 1 <= self.timeout_seconds <= 59:
            raise ValueError(f"{PREFIX}timeoutSeconds must be 1..59 (CloudFront waits at most 60 s)")
        self._check_edge_options()
        self._check_backfill_options()
        self._check_originals_options()

    def _check_edge_options(self) -> None:
        if self.reserved_concurrency is not None and self.reserved_concurrency < 1:
            raise ValueError(f"{PREFIX}reservedConcurrency must be 1 or more, or 'none' for no cap")
        if self.waf_rate_limit and not 10 <= self.waf_rate_limit <= 2_000_000_000:
            raise ValueError(f"{PREFIX}wafRateLimit must be 0 (no web ACL) or 10..2000000000 requests per 5 minutes")
        if self.web_acl_arn and not self.web_acl_arn.startswith("arn:aws:wafv2:us-east-1:"):
            raise ValueError(
                f"{PREFIX}webAclArn must be a CLOUDFRONT-scope WAFv2 web ACL ARN (arn:aws:wafv2:us-east-1:...)"
            )
        if self.web_acl_arn and self.waf_rate_limit:
            raise ValueError(f"{PREFIX}webAclArn and {PREFIX}wafRateLimit: give one (an existing ACL or a new one)")
        if self.certificate_arn and not self.certificate_arn.startswith("arn:aws:acm:us-east-1:"):
            raise ValueError(
                f"{PREFIX}certificateArn must be an ACM certificate in us-east-1 (arn:aws:acm:us-east-1:...)"
            )
        if bool(self.domain_names) != bool(self.certificate_arn):
            raise ValueError(f"{PREFIX}domainNames and {PREFIX}certificateArn go together")
        if self.minimum_tls not in TLS_POLICIES:
            raise ValueError(f"{PREFIX}minimumTls must be one of {TLS_POLICIES}, not {self.minimum_tls!r}")
        if self.access_logs_expire_days < 1:
            raise ValueError(f"{PREFIX}accessLogsExpireDays must be 1 or more")
        if self.alarm_email is not None and "@" not in self.alarm_email:
            raise ValueError(f"{PREFIX}alarmEmail must be an e-mail address")

    def _check_backfill_options(self) -> None:
        if not 1 <= self.backfill_max_concurrency <= 10_000:
            raise ValueError(f"{PREFIX}backfillMaxConcurrency must be 1..10000 (child executions at once)")
        largest = (LAMBDA_MAX_TIMEOUT_S - LIFECYCLE_BASE_SECONDS) // INGEST_SECONDS_PER_ORIGINAL
        if not 1 <= self.backfill_batch_size <= largest:
            raise ValueError(
                f"{PREFIX}backfillBatchSize must be 1..{largest:.0f} (originals per invocation: at "
                f"{INGEST_SECONDS_PER_ORIGINAL} s each, more would not fit Lambda's {LAMBDA_MAX_TIMEOUT_S} s)"
            )
        if not 0 <= self.backfill_tolerated_failure_percent <= 100:
            raise ValueError(f"{PREFIX}backfillToleratedFailurePercent must be 0..100")

    def _check_originals_options(self) -> None:
        unknown = [name for name in self.eager_presets if name not in self.presets]
        if unknown:
            raise ValueError(f"{PREFIX}eagerPresets: no preset named {unknown[0]!r} in {PREFIX}presets")
        if self.originals_noncurrent_days < 0:
            raise ValueError(f"{PREFIX}originalsNoncurrentDays must be 0 (keep old versions) or more")
        arn = self.originals_kms_key_arn
        if arn is not None and not (arn.startswith("arn:aws") and ":kms:" in arn and ":key/" in arn):
            raise ValueError(
                f"{PREFIX}originalsKmsKeyArn must be a KMS key ARN (arn:aws:kms:<region>:<account>:key/...)"
            )

    @property
    def lifecycle_timeout_seconds(self) -> int:
        """The lifecycle function's timeout: room for a backfill batch at the measured ingest rate."""
        need = LIFECYCLE_BASE_SECONDS + math.ceil(self.backfill_batch_size * INGEST_SECONDS_PER_ORIGINAL)
        return max(LIFECYCLE_MIN_SECONDS, need)

    @property
    def key_id(self) -> str:
        """The id of the signing key the deployment starts with."""
        return self.signing_key.partition(":")[0] if self.signing_key else self.signing_key_id

    @property
    def policy(self) -> Policy:
        """The deployed unsigned policy: the presets, and width only from the list, up to the largest side.

        No keys: they live in the edge's KeyValueStore, never in code or in the function's environment.
        """
        unsigned = UnsignedPolicy(widths=self.unsigned_widths, heights=(), max_side=self.max_side)
        return Policy.create(unsigned=unsigned, presets=self.presets)

    def origin_settings(self, originals_bucket: str, variants_bucket: str) -> OriginSettings:
        """The transform function's settings: its environment is ``.to_env()``, the edge's config is
        rendered from its ``policy``."""
        return OriginSettings(
            originals_bucket=originals_bucket,
            variants_bucket=variants_bucket,
            policy=self.policy,
            limits=Limits(max_output_side=self.max_side),
            # CloudFront's S3-first origin group has already looked for the variant.
            variant_lookup=False,
            # The edge function checked signatures and rewrote the URI; only CloudFront can call the URL.
            trust_path_form=True,
            # Leave the handler time to answer before Lambda's own timeout.
            request_budget_s=float(max(1, self.timeout_seconds - RESPONSE_MARGIN_S)),
            memory_mb=self.memory_mb,
            architecture=Architecture(self.arch),
            # The preflight reaches the function when S3 has no object at the URI (the origin group fails over).
            cors_origins=self.cors_origins,
            eager_presets=self.eager_presets,
            dialects=self.dialects,
            **self._expiry(),
        )

    def _expiry(self) -> dict[str, int]:
        """The variants' expiry the origin keeps its CDN lifetime within (none: the bucket keeps them)."""
        days = self.variants_expire_days
        if not days:
            return {}
        return {"variants_expiry_days": days, "shared_max_age": min(OriginSettings().shared_max_age, days * DAY_S)}

    @classmethod
    def from_context(cls, node: Node) -> Settings:
        _refuse_unknown_keys(node.get_all_context())
        values = {}
        for name, parse in PARSERS.items():
            raw = node.try_get_context(PREFIX + context_key(name))
            if raw is not None:
                with _naming(name):
                    values[name] = parse(raw)
        return cls(**values)


PARSERS: Mapping[str, Callable[[Any], Any]] = {  # field -> parser of its context value
    "originals_bucket": _optional_str,
    "variants_expire_days": _int,
    "arch": str,
    "memory_mb": _int,
    "timeout_seconds": _int,
    "reserved_concurrency": _optional_int,
    "log_retention_days": _int,
    "bundle": _bool,
    "asset_dir": _optional_str,
    "presets": parse_presets,
    "unsigned_widths": parse_sizes,
    "max_side": _int,
    "signing_key": _optional_str,
    "signing_key_id": str,
    "price_class": str,
    "origin_shield_region": _optional_str,
    "cors_origins": _strs,
    "error_ttl_seconds": _int,
    "errors_alarm_threshold": _int,
    "alarm_email": _optional_str,
    "cdn_additional_metrics": _bool,
    "web_acl_arn": _optional_str,
    "waf_rate_limit": _int,
    "domain_names": _strs,
    "certificate_arn": _optional_str,
    "minimum_tls": str,
    "access_logs": _bool,
    "access_logs_expire_days": _int,
    "lifecycle": _bool,
    "backfill_max_concurrency": _int,
    "backfill_batch_size": _int,
    "backfill_tolerated_failure_percent": _int,
    "eager_presets": _strs,
    "originals_noncurrent_days": _int,
    "originals_kms_key_arn": _optional_str,
    "dialects": DIALECTS.parse,
}


def _refuse_unknown_keys(context: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` for each ``vipsfront:*`` key the app does not read (a typo is otherwise ignored)."""
    known = tuple(map(context_key, PARSERS)) + APP_KEYS
    unknown = sorted(key for key in context if key.startswith(PREFIX) and key.removeprefix(PREFIX) not in known)
    if unknown:
        raise ValueError("; ".join(_unknown_key(key, known) for key in unknown))


def _unknown_key(key: str, known: tuple[str, ...]) -> str:
    close = get_close_matches(key.removeprefix(PREFIX), known, n=1)
    if close:
        return f"unknown context key {key}: did you mean {PREFIX}{close[0]}?"
    return f"unknown context key {key} (docs/deploy.md lists them)"


def context_key(field_name: str) -> str:
    head, *rest = field_name.split("_")
    return head + "".join(part.capitalize() for part in rest)


@contextmanager
def _naming(field_name: str) -> Iterator[None]:
    """Prefix a ``ValueError`` raised inside with the context key of ``field_name``."""
    try:
        yield
    except ValueError as error:
        if str(error).startswith(PREFIX):
            raise
        raise ValueError(f"{PREFIX}{context_key(field_name)}: {error}") from None
