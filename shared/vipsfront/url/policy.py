"""Who may ask for what: the unsigned policy, the published key prefixes and the signature check.

Everything here acts on parsed values: the spec's signing canonical (what the CDN caches and what a
signature covers), so the CloudFront Function (``functions/edge/viewer_request.js``, held to
``tests/vectors``) can apply the same rules to the same text.

With signing keys configured, an unsigned request may ask only for what a responsive page needs and
what stays bounded per original: a width on the ladder, a format, a fit and a named crop position (and
the original's version token, ``v``), or exactly a preset. ``dpr`` is folded into the width before the check,
so it can only land on the ladder. Everything else (``q``, ``blur``, ``sharpen``, ``bg``, ``rot``,
``flip``, focal points, ``enlarge``, ``h``, smart crops) needs a preset or a signature unless configured.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from vipsfront.errors import InvalidSpecError, OriginalNotFoundError, SignatureError
from vipsfront.url.breakpoints import BREAKPOINT_WIDTHS
from vipsfront.url.grammar import PARAMS, SPEC_PARAMS, build
from vipsfront.url.query import check_presets
from vipsfront.url.signing import verify
from vipsfront.url.spec import MAX_SIDE, Position, Spec, format_value

ANY = None  # an allow-list entry that takes every value the grammar takes
SIZE_PARAMS = frozenset({"w", "h"})  # bounded by ``widths``/``heights``, not by ``params``
SMART_POSITIONS = frozenset({Position.ATTENTION, Position.ENTROPY, Position.FACE})  # costlier crops
NAMED_POSITIONS: tuple[str, ...] = tuple(p.value for p in Position if p not in SMART_POSITIONS)

AllowList = Mapping[str, tuple[str, ...] | None]  # spec parameter -> allowed canonical values (None: any)

DEFAULT_UNSIGNED_PARAMS: AllowList = {"fit": ANY, "pos": NAMED_POSITIONS, "fm": ANY}
# ``v`` (the original's version token) is always allowed: the origin serves only the current version,
# so it adds no variant. The policy judges the spec without it.
ALWAYS_ALLOWED = frozenset({"v"})


def _is_side(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_SIDE


def _nearest(side: int, sizes: tuple[int, ...] | None) -> str:
    """`` (nearest unsigned: 640, 750)``: the listed sizes just below and above ``side``."""
    below = [s for s in sorted(sizes or ()) if s < side][-1:]
    above = [s for s in sorted(sizes or ()) if s > side][:1]
    return f" (nearest unsigned: {', '.join(str(s) for s in below + above)})" if below + above else ""


def check_params(params: Mapping[str, Iterable[Any] | None] | None) -> AllowList | None:
    """An allow-list with every name a spec parameter and every value in canonical form; ``ValueError``.

    ``None`` (or ``"*"``) allows every parameter; a ``None`` or ``"*"`` value every value of its parameter.
    """
    if params is None or params == "*":
        return None
    if not isinstance(params, Mapping):
        raise ValueError('unsigned params must map parameters to values, like {"fm": "*", "q": ["60", "90"]}')
    checked: dict[str, tuple[str, ...] | None] = {}
    for name, values in params.items():
        if name in SIZE_PARAMS or name == "dpr":
            raise ValueError(f"unsigned {name!r} is set by the unsigned widths and heights, not the params")
        if name in ALWAYS_ALLOWED:
            raise ValueError(f"unsigned {name!r} is always allowed (the origin checks it against the original)")
        if name not in SPEC_PARAMS:
            raise ValueError(f"unsigned params: unknown parameter {name!r}")
        if values is None or values == "*":
            checked[name] = ANY
            continue
        if isinstance(values, str) or not isinstance(values, Iterable):
            raise ValueError(f'unsigned params: {name!r} takes a list of values or "*"')
        texts = tuple(str(v) for v in values)
        for text in texts:
            try:
                canonical = format_value(PARAMS[name](text))
            except InvalidSpecError as error:
                raise ValueError(f"unsigned params: {error.message}") from None
            if canonical != text:
                raise ValueError(f"unsigned params: write {name} {text!r} as {canonical!r}")
        checked[name] = texts
    return checked


def check_prefixes(prefixes: Iterable[str] | None) -> tuple[str, ...] | None:
    """Key prefixes (``"public/"``): non-empty, no leading ``/``, ending in ``/``; ``ValueError``."""
    if prefixes is None:
        return None
    checked = tuple(prefixes)
    for prefix in checked:
        if not isinstance(prefix, str) or not prefix.endswith("/") or prefix.startswith("/") or prefix == "/":
            raise ValueError(
                f"key prefixes are folders like 'public/' (ending in '/', not starting with one): {prefix!r}"
            )
    return checked


@dataclass(frozen=True, slots=True)
class UnsignedPolicy:
    """Which requests need no signature when signing keys are configured (without keys: all of them).

    ``widths``/``heights``: allowed output sizes (after ``dpr`` folding); ``None`` allows any size, an
    empty tuple none. ``params``: the other spec parameters allowed and their values (``None``: all of
    them, any value). ``full_size``: a transform with neither ``w`` nor ``h`` (a re-encode at the
    original's size) is allowed even when widths are restricted. ``originals``: the parameter-less
    original is served. ``info``: ``/_vf/info/{key}`` is served. A spec that is exactly a preset's
    expansion is always allowed, and with ``presets_only`` nothing else is (the original aside).
    ``max_side`` caps both sides.
    """

    widths: tuple[int, ...] | None = BREAKPOINT_WIDTHS
    heights: tuple[int, ...] | None = ()
    max_side: int | None = None
    presets_only: bool = False
    params: AllowList | None = field(default_factory=lambda: dict(DEFAULT_UNSIGNED_PARAMS))
    full_size: bool = False
    originals: bool = True
    info: bool = True

    def __post_init__(self) -> None:
        for name in ("widths", "heights"):
            sizes = getattr(self, name)
            if sizes is not None and not all(_is_side(side) for side in sizes):
                raise ValueError(f"unsigned {name} must be whole pixel sizes from 1 to {MAX_SIDE}, not {list(sizes)}")
        if self.max_side is not None and not _is_side(self.max_side):
            raise ValueError(f"the unsigned max side must be a whole pixel size from 1 to {MAX_SIDE}")
        object.__setattr__(self, "params", check_params(self.params))

    def allows(self, spec: Spec, preset_specs: frozenset[str] = frozenset()) -> bool:
        return self.refusal(spec, preset_specs) is None

    def refusal(self, spec: Spec, preset_specs: frozenset[str] = frozenset()) -> str | None:
        """Why ``spec`` needs a signature (the first ``name=value`` the policy refuses, sizes last, and
        for a size off the list the nearest allowed ones), or ``None`` when it needs none. The edge
        function words its refusals the same way."""
        spec = spec.unversioned
        if spec.is_identity:
            return None if self.originals else "the original needs a signed URL"
        signing = spec.signing_canonical()
        if spec.unversioned.signing_canonical() in preset_specs:  # a preset at a version is the preset
            return None
        if self.presets_only:
            return "a transform other than a preset needs a signed URL"
        if spec.w is None and spec.h is None and not (self.full_size or self.widths is None):
            return "a transform without w or h needs a signed URL"  # a re-encode at the original's size
        pieces = signing.split(",")  # sizes last: ``p=thumb&q=90`` is refused for its q, not the preset's w
        for piece in sorted(pieces, key=lambda piece: piece.partition("=")[0] in SIZE_PARAMS):
            name, _, value = piece.partition("=")
            if name in SIZE_PARAMS:
                sizes = self.widths if name == "w" else self.heights
                too_large = self.max_side is not None and int(value) > self.max_side
                if too_large or (sizes is not None and int(value) not in sizes):
                    return f"{piece} needs a signed URL" + _nearest(int(value), sizes)
            elif self.params is not None:
                values = self.params.get(name, ())
                if name not in self.params or (values is not None and value not in values):
                    return f"{piece} needs a signed URL"
        return None

    def to_config(self) -> dict[str, Any]:
        return {
            "widths": None if self.widths is None else list(self.widths),
            "heights": None if self.heights is None else list(self.heights),
            "max_side": self.max_side,
            "presets_only": self.presets_only,
            "params": None
            if self.params is None
            else {name: None if values is None else list(values) for name, values in self.params.items()},
            "full_size": self.full_size,
            "originals": self.originals,
            "info": self.info,
        }

    @classmethod
    def from_config(cls, unsigned: Mapping[str, Any]) -> UnsignedPolicy:
        """A missing or ``null`` entry means no limit (every size, every parameter); flags default to on,
        ``presets_only`` and ``full_size`` to off."""

        def sizes(name: str) -> tuple[int, ...] | None:
            return tuple(unsigned[name]) if unsigned.get(name) is not None else None

        return cls(
            widths=sizes("widths"),
            heights=sizes("heights"),
            max_side=unsigned.get("max_side"),
            presets_only=bool(unsigned.get("presets_only", False)),
            params=unsigned.get("params"),
            full_size=bool(unsigned.get("full_size", False)),
            originals=bool(unsigned.get("originals", True)),
            info=bool(unsigned.get("info", True)),
        )


@dataclass(frozen=True, slots=True)
class Policy:
    """Signing keys (``kid -> secret``), presets, the unsigned policy and the published key prefixes,
    validated at start-up. ``prefixes`` (``None``: every key) applies to signed requests too."""

    keys: Mapping[str, bytes] = field(default_factory=dict, repr=False)  # secrets: never in a repr or log
    unsigned: UnsignedPolicy = UnsignedPolicy()
    presets: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    preset_specs: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] | None = None

    @classmethod
    def create(
        cls,
        keys: Mapping[str, bytes] | None = None,
        unsigned: UnsignedPolicy | None = None,
        presets: Mapping[str, Mapping[str, str]] | None = None,
        prefixes: Iterable[str] | None = None,
    ) -> Policy:
        presets = dict(presets or {})
        specs = frozenset(build(params).signing_canonical() for params in presets.values())
        return cls(dict(keys or {}), unsigned or UnsignedPolicy(), presets, specs, check_prefixes(prefixes))

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Policy:
        """From the JSON shape of ``tests/vectors/*.json`` and the edge function's ``CONFIG``.

        ``{"keys": {kid: secret}, "presets": {...}, "prefixes": [...], "unsigned": {"widths", "heights",
        "max_side", "presets_only", "params", "full_size", "originals", "info"}}``; a missing or ``null``
        entry means no limit. Raise ``ValueError`` (or ``InvalidSpecError`` for a preset).
        """
        presets = config.get("presets") or {}
        check_presets(presets)
        return cls.create(
            keys={kid: secret.encode() for kid, secret in (config.get("keys") or {}).items()},
            unsigned=UnsignedPolicy.from_config(config.get("unsigned") or {}),
            presets=presets,
            prefixes=config.get("prefixes"),
        )

    def to_config(self) -> dict[str, Any]:
        """The inverse of ``from_config``, without the keys (secrets never travel in a config)."""
        return {
            "presets": {name: dict(params) for name, params in self.presets.items()},
            "prefixes": None if self.prefixes is None else list(self.prefixes),
            "unsigned": self.unsigned.to_config(),
        }

    @property
    def signed(self) -> bool:
        return bool(self.keys)

    def check_key(self, key: str) -> None:
        """Raise ``OriginalNotFoundError`` for a key outside the published prefixes (as if absent)."""
        if self.prefixes is not None and not key.startswith(self.prefixes):
            raise OriginalNotFoundError("original not found", param="key")

    def authorize(self, key: str, spec: Spec, *, signature: str | None, expires: int | None, now: float) -> None:
        """Raise unless this request may be served: ``OriginalNotFoundError`` outside the prefixes,
        ``SignatureError`` for a bad signature or an unsigned request the policy refuses.

        A given signature is always checked (a tampered one is refused even for an unsigned-allowed
        spec). Without signing keys everything within the hard limits (and the prefixes) is allowed.
        """
        self.check_key(key)
        if signature is not None and self.keys:
            verify(key, spec, signature, self.keys, expires=expires, now=now)
            return
        if not self.keys:
            return
        refusal = self.unsigned.refusal(spec, self.preset_specs)
        if refusal is not None:
            raise SignatureError(refusal, param="s")

    def authorize_info(self, key: str) -> None:
        """``/_vf/info/{key}``: within the prefixes, and unsigned info allowed (no signed form: behind
        the CDN its path is cached by URI, so a signed answer would be served to everyone)."""
        self.check_key(key)
        if self.keys and not self.unsigned.info:
            raise SignatureError("image info is not served", param=None)
