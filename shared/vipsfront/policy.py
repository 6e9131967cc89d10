"""Who may ask for what: the unsigned policy and the signature check, on parsed values only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from vipsfront.errors import SignatureError
from vipsfront.grammar import build
from vipsfront.query import check_presets
from vipsfront.signing import verify
from vipsfront.spec import MAX_SIDE, Spec


def _is_side(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_SIDE


@dataclass(frozen=True, slots=True)
class UnsignedPolicy:
    """Which specs need no signature when signing keys are configured.

    ``widths``/``heights``: allowed output sizes (after ``dpr`` folding); ``None`` allows any size, an
    empty tuple none. A spec that is exactly a preset's expansion is always allowed, and with
    ``presets_only`` nothing else is. ``max_side`` caps both sides.
    """

    widths: tuple[int, ...] | None = None
    heights: tuple[int, ...] | None = None
    max_side: int | None = None
    presets_only: bool = False
    allow_original: bool = True

    def __post_init__(self) -> None:
        for name in ("widths", "heights"):
            sizes = getattr(self, name)
            if sizes is not None and not all(_is_side(side) for side in sizes):
                raise ValueError(f"unsigned {name} must be whole pixel sizes from 1 to {MAX_SIDE}, not {list(sizes)}")
        if self.max_side is not None and not _is_side(self.max_side):
            raise ValueError(f"the unsigned max side must be a whole pixel size from 1 to {MAX_SIDE}")

    def allows(self, spec: Spec, preset_specs: frozenset[str] = frozenset()) -> bool:
        if spec.is_identity:
            return self.allow_original
        if spec.unversioned.signing_canonical() in preset_specs:  # a preset at a version is the preset
            return True
        if self.presets_only:
            return False
        for side, allowed in ((spec.w, self.widths), (spec.h, self.heights)):
            if side is None:
                continue
            if allowed is not None and side not in allowed:
                return False
            if self.max_side is not None and side > self.max_side:
                return False
        return True


@dataclass(frozen=True, slots=True)
class Policy:
    """Signing keys (``kid -> secret``), presets and the unsigned policy, validated at start-up."""

    keys: Mapping[str, bytes] = field(default_factory=dict, repr=False)  # secrets: never in a repr or log
    unsigned: UnsignedPolicy = UnsignedPolicy()
    presets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    preset_specs: frozenset[str] = frozenset()

    @classmethod
    def create(
        cls,
        keys: Mapping[str, bytes] | None = None,
        unsigned: UnsignedPolicy | None = None,
        presets: Mapping[str, Mapping[str, str]] | None = None,
    ) -> Policy:
        presets = dict(presets or {})
        specs = frozenset(build(params).signing_canonical() for params in presets.values())
        return cls(dict(keys or {}), unsigned or UnsignedPolicy(), presets, specs)

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Policy:
        """From the JSON shape of ``tests/vectors/*.json`` and the edge function's ``CONFIG``.

        ``{"keys": {kid: secret}, "presets": {...}, "unsigned": {"widths", "heights", "max_side",
        "presets_only"}}``; a missing or ``null`` size list allows any size.
        """
        unsigned = config.get("unsigned") or {}

        def sizes(name: str) -> tuple[int, ...] | None:
            return tuple(unsigned[name]) if unsigned.get(name) is not None else None

        presets = config.get("presets") or {}
        check_presets(presets)
        return cls.create(
            keys={kid: secret.encode() for kid, secret in (config.get("keys") or {}).items()},
            unsigned=UnsignedPolicy(
                widths=sizes("widths"),
                heights=sizes("heights"),
                max_side=unsigned.get("max_side"),
                presets_only=bool(unsigned.get("presets_only", False)),
            ),
            presets=presets,
        )

    def to_config(self) -> dict[str, Any]:
        """The inverse of ``from_config``, without the keys (secrets never travel in a config)."""
        u = self.unsigned
        return {
            "presets": {name: dict(params) for name, params in self.presets.items()},
            "unsigned": {
                "widths": None if u.widths is None else list(u.widths),
                "heights": None if u.heights is None else list(u.heights),
                "max_side": u.max_side,
                "presets_only": u.presets_only,
            },
        }

    @property
    def signed(self) -> bool:
        return bool(self.keys)

    def authorize(self, key: str, spec: Spec, *, signature: str | None, expires: int | None, now: float) -> None:
        """Raise ``SignatureError`` unless this request may be served.

        A given signature is always checked (a tampered one is refused even for an unsigned-allowed
        spec). Without signing keys everything within the hard limits is allowed.
        """
        if signature is not None and self.keys:
            verify(key, spec, signature, self.keys, expires=expires, now=now)
            return
        if not self.keys:
            return
        if not self.unsigned.allows(spec, self.preset_specs):
            raise SignatureError("this transform needs a signed URL", param="s")
