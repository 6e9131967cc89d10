"""Deployment settings, read once from CDK context (``cdk deploy -c vipsfront:memoryMb=3008``)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from constructs import Node

PREFIX = "vipsfront:"

# Next.js deviceSizes + imageSizes: what a default `next/image` loader asks for.
DEFAULT_WIDTHS = (16, 32, 48, 64, 96, 128, 256, 384, 640, 750, 828, 1080, 1200, 1920, 2048, 3840)
DEFAULT_PRESETS: Mapping[str, Mapping[str, str]] = {
    "thumb": {"w": "256", "h": "256", "fit": "cover"},
    "card": {"w": "640", "h": "360", "fit": "cover"},
    "hero": {"w": "1920"},
}
_KID = re.compile(r"[A-Za-z0-9_-]{1,32}")
PRICE_CLASSES = ("100", "200", "All")
ARCHITECTURES = ("arm64", "x86_64")


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


def _ints(value: Any) -> tuple[int, ...]:
    items = value if isinstance(value, list) else str(value).split(",")
    return tuple(sorted({int(str(item).strip()) for item in items if str(item).strip()}))


def _strs(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else str(value).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip() and str(item).strip() != "none")


def _presets(value: Any) -> dict[str, dict[str, str]]:
    data = json.loads(value) if isinstance(value, str) else value
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ValueError("presets must be a JSON object: name -> {param: value}")
    return {str(name): {str(k): str(v) for k, v in params.items()} for name, params in data.items()}


@dataclass(frozen=True)
class Settings:
    """Every option the stack takes; each field is the context key ``vipsfront:<field in camelCase>``."""

    originals_bucket: str | None = None
    variants_expire_days: int = 30
    arch: str = "arm64"
    memory_mb: int = 2048
    timeout_seconds: int = 25
    reserved_concurrency: int | None = None
    log_retention_days: int = 30
    bundle: bool = True
    asset_dir: str | None = None
    presets: Mapping[str, Mapping[str, str]] = field(default_factory=lambda: dict(DEFAULT_PRESETS))
    unsigned_widths: tuple[int, ...] = DEFAULT_WIDTHS
    max_side: int = 8192
    signing_key: str | None = None
    signing_key_id: str = "k1"
    price_class: str = "100"
    origin_shield_region: str | None = None
    cors_origins: tuple[str, ...] = ("*",)
    error_ttl_seconds: int = 10
    errors_alarm_threshold: int = 5

    def __post_init__(self) -> None:
        if self.arch not in ARCHITECTURES:
            raise ValueError(f"{PREFIX}arch must be one of {ARCHITECTURES}, not {self.arch!r}")
        if self.price_class not in PRICE_CLASSES:
            raise ValueError(f"{PREFIX}priceClass must be one of {PRICE_CLASSES}, not {self.price_class!r}")
        if not 128 <= self.memory_mb <= 10240:
            raise ValueError(f"{PREFIX}memoryMb must be 128..10240")
        if not 1 <= self.timeout_seconds <= 59:
            raise ValueError(f"{PREFIX}timeoutSeconds must be 1..59 (CloudFront waits at most 60 s)")
        if not _KID.fullmatch(self.signing_key_id):
            raise ValueError(f"{PREFIX}signingKeyId must match [A-Za-z0-9_-]{{1,32}}")
        if self.signing_key is not None:
            kid, sep, secret = self.signing_key.partition(":")
            if not sep or not _KID.fullmatch(kid) or len(secret) < 16:
                raise ValueError(f"{PREFIX}signingKey must be 'kid:secret' with a secret of 16+ characters")

    @property
    def key_id(self) -> str:
        """The id of the signing key the deployment starts with."""
        return self.signing_key.partition(":")[0] if self.signing_key else self.signing_key_id

    @classmethod
    def from_context(cls, node: Node) -> Settings:
        parsers: dict[str, Callable[[Any], Any]] = {
            "originals_bucket": _optional_str,
            "variants_expire_days": _int,
            "arch": str,
            "memory_mb": _int,
            "timeout_seconds": _int,
            "reserved_concurrency": _optional_int,
            "log_retention_days": _int,
            "bundle": _bool,
            "asset_dir": _optional_str,
            "presets": _presets,
            "unsigned_widths": _ints,
            "max_side": _int,
            "signing_key": _optional_str,
            "signing_key_id": str,
            "price_class": str,
            "origin_shield_region": _optional_str,
            "cors_origins": _strs,
            "error_ttl_seconds": _int,
            "errors_alarm_threshold": _int,
        }
        values = {}
        for name, parse in parsers.items():
            raw = node.try_get_context(PREFIX + context_key(name))
            if raw is not None:
                values[name] = parse(raw)
        return cls(**values)


def context_key(field_name: str) -> str:
    head, *rest = field_name.split("_")
    return head + "".join(part.capitalize() for part in rest)
