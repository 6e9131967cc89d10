"""Settings: read once from the environment, validated, then passed to the core as values.

Every variable shares the ``VIPSFRONT_`` prefix; S3 itself is configured with the standard AWS variables
(``AWS_ENDPOINT_URL_S3``, ``AWS_REGION``/``AWS_DEFAULT_REGION``, credentials). The README's table lists
them; ``Settings.from_env`` is the one place that reads them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

from vipsfront.engine import Limits
from vipsfront.policy import Policy, UnsignedPolicy
from vipsfront.query import check_presets
from vipsfront.signing import parse_keys
from vipsfront.spec import MAX_SIDE

DEFAULT_ORIGINALS_BUCKET = "vipsfront-originals"
DEFAULT_VARIANTS_BUCKET = "vipsfront-variants"
DEFAULT_CACHE_CONTROL = "public, max-age=31536000, immutable"
DEFAULT_ERROR_CACHE_CONTROL = "public, max-age=60"


class ConfigError(ValueError):
    """A setting is malformed; raised at start-up, never per request."""


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
    payload_limit: int = 5_500_000  # bytes; larger variants are stored, then answered with a 307
    request_budget_s: float = 25.0  # wall-clock budget of one request, below the Lambda timeout
    max_concurrent_transforms: int = 0  # per process; 0: one per CPU core
    client_hints: bool = True  # Sec-CH-Width / Sec-CH-DPR fill in a missing w / dpr (see vipsfront.edge)
    demo: bool = False  # serve the demo page at /_vf/demo (it lists the originals: local use only)
    s3_endpoint: str | None = None
    region: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Build settings from ``VIPSFRONT_*`` variables; raise ``ConfigError`` naming a bad one."""
        try:
            return cls._from_env(env)
        except ConfigError:
            raise
        except (ValueError, TypeError, KeyError) as error:
            raise ConfigError(str(error)) from error

    @classmethod
    def _from_env(cls, env: Mapping[str, str]) -> Settings:
        def get(name: str, default: str) -> str:
            return env.get(f"VIPSFRONT_{name}", default).strip() or default

        def flag(name: str, default: bool) -> bool:
            raw = get(name, "1" if default else "0").lower()
            if raw not in ("0", "1", "true", "false", "yes", "no"):
                raise ConfigError(f"VIPSFRONT_{name} must be 0 or 1")
            return raw in ("1", "true", "yes")

        def ints(name: str) -> tuple[int, ...] | None:
            raw = env.get(f"VIPSFRONT_{name}", "").strip()
            if raw in ("", "*"):
                return None
            if raw == "none":
                return ()
            try:
                return tuple(sorted({int(v) for v in raw.split(",") if v.strip()}))
            except ValueError:
                raise ConfigError(f"VIPSFRONT_{name} must be a comma list of pixel sizes") from None

        presets_raw = get("PRESETS", "{}")
        try:
            presets = json.loads(presets_raw)
        except json.JSONDecodeError:
            raise ConfigError("VIPSFRONT_PRESETS must be a JSON object") from None
        if not isinstance(presets, dict) or not all(isinstance(v, dict) for v in presets.values()):
            raise ConfigError('VIPSFRONT_PRESETS must look like {"thumb": {"w": "200", "h": "200"}}')
        presets = {name: {k: str(v) for k, v in params.items()} for name, params in presets.items()}
        try:
            check_presets(presets)
        except Exception as error:
            raise ConfigError(f"VIPSFRONT_PRESETS: {error}") from None
        try:
            keys = parse_keys(env.get("VIPSFRONT_SIGNING_KEYS", ""))
        except ValueError as error:
            raise ConfigError(f"VIPSFRONT_SIGNING_KEYS: {error}") from None

        max_side = int(get("MAX_OUTPUT_SIDE", str(MAX_SIDE)))
        unsigned = UnsignedPolicy(
            widths=ints("UNSIGNED_WIDTHS"),
            heights=ints("UNSIGNED_HEIGHTS"),
            max_side=int(env["VIPSFRONT_UNSIGNED_MAX_SIDE"]) if env.get("VIPSFRONT_UNSIGNED_MAX_SIDE") else None,
            presets_only=flag("UNSIGNED_PRESETS_ONLY", False),
        )
        limits = Limits(
            max_input_pixels=int(get("MAX_INPUT_PIXELS", "100000000")),
            max_input_bytes=int(get("MAX_INPUT_BYTES", str(50 * 1024 * 1024))),
            max_output_side=max_side,
            max_frames=int(get("MAX_FRAMES", "100")),
            allow_svg=flag("ALLOW_SVG", False),
            allow_pdf=flag("ALLOW_PDF", False),
        )
        return cls(
            originals_bucket=get("ORIGINALS_BUCKET", DEFAULT_ORIGINALS_BUCKET),
            variants_bucket=get("VARIANTS_BUCKET", DEFAULT_VARIANTS_BUCKET),
            policy=Policy.create(keys, unsigned, presets),
            limits=limits,
            variant_lookup=flag("VARIANT_LOOKUP", True),
            trust_path_form=flag("TRUST_PATH_FORM", False),
            store_originals=flag("STORE_ORIGINALS", True),
            cache_control=get("CACHE_CONTROL", DEFAULT_CACHE_CONTROL),
            error_cache_control=get("ERROR_CACHE_CONTROL", DEFAULT_ERROR_CACHE_CONTROL),
            payload_limit=int(get("PAYLOAD_LIMIT", "5500000")),
            request_budget_s=float(get("REQUEST_BUDGET_S", "25")),
            max_concurrent_transforms=int(get("MAX_CONCURRENT_TRANSFORMS", "0")),
            client_hints=flag("CLIENT_HINTS", True),
            demo=flag("DEMO", False),
            s3_endpoint=env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or None,
        )
