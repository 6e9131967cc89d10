"""The viewer-request step, in Python: what the CloudFront Function does at the edge.

``route`` turns a request (path, query, ``Accept``) into the canonical variant it names, after the
signature and unsigned-policy checks, or raises the typed error the edge answers with. The local server
runs it in front of the origin; ``functions/edge/viewer_request.js`` is its JavaScript twin and
``tests/vectors/*.json`` holds the cases both must pass.

Client hints (query form, unsigned, not the original): with no ``w``/``h``, the width comes from
``Sec-CH-Width`` (physical pixels, which browsers send for an ``<img sizes>``), rounded up to the next
allowed width (the unsigned policy's list, else ``HINT_WIDTHS``); ``dpr=auto`` takes the ratio from
``Sec-CH-DPR``, rounded up to a multiple of 0.5 from 1 to 4 (``1`` without it). DPR is opt-in per URL
because a ``srcset`` candidate already carries it: applying it again would double the size. Hints fold
into the spec like ``dpr``, so the canonical form, the cache key and the variant key stay deterministic;
a hint that would give a spec the policy refuses is ignored, never an error. The CloudFront Function
does not apply hints (``dpr=auto`` is 1 there): behind CloudFront they are a local-server feature.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from vipsfront.errors import InvalidSpecError
from vipsfront.policy import Policy
from vipsfront.spec import (
    REQUEST_PARAMS,
    Spec,
    build,
    parse_params,
    parse_path,
    split_query,
    variant_key,
    variant_path,
)


@dataclass(frozen=True, slots=True)
class Route:
    """Where a request goes: the original, the spec, and the variant's key and URL path."""

    key: str
    spec: Spec
    variant_key: str
    uri: str
    vary_accept: bool
    signature: str | None = None
    expires: int | None = None
    vary_hints: tuple[str, ...] = ()  # client-hint headers the spec depended on (for ``Vary``)

    @property
    def location(self) -> str:
        """The canonical URL of this variant, signed as the request was (for redirects)."""
        query = "&".join(f"{name}={value}" for name, value in (("s", self.signature), ("exp", self.expires)) if value)
        return f"{self.uri}?{query}" if query else self.uri


# Widths a Sec-CH-Width hint rounds up to when the unsigned policy has no list (Next.js's default sizes).
HINT_WIDTHS: tuple[int, ...] = (16, 32, 48, 64, 96, 128, 256, 384, 640, 750, 828, 1080, 1200, 1920, 2048, 3840)
SEC_CH_DPR = "Sec-CH-DPR"
SEC_CH_WIDTH = "Sec-CH-Width"
_HINT_WIDTH = re.compile(r"[0-9]{1,5}")
_HINT_DPR = re.compile(r"[0-9]{1,2}(\.[0-9]{1,20})?")


@dataclass(frozen=True, slots=True)
class Hints:
    """The client-hint request headers, raw (``None`` when absent)."""

    dpr: str | None = None
    width: str | None = None

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> Hints:
        """From a case-insensitive mapping (Starlette's headers) or a lower-case dict."""
        return cls(dpr=headers.get("sec-ch-dpr"), width=headers.get("sec-ch-width"))


def hint_width(raw: str | None, ladder: tuple[int, ...]) -> int | None:
    """``Sec-CH-Width`` rounded up to the next width of ``ladder`` (its largest when above them all)."""
    raw = (raw or "").strip()
    if not _HINT_WIDTH.fullmatch(raw) or int(raw) == 0 or not ladder:
        return None
    return next((w for w in sorted(ladder) if w >= int(raw)), max(ladder))


def hint_dpr(raw: str | None) -> float | None:
    """``Sec-CH-DPR`` rounded up to a multiple of 0.5 within 1..4 (``None`` when it would change nothing)."""
    raw = (raw or "").strip()
    if not _HINT_DPR.fullmatch(raw):
        return None
    dpr = min(4.0, math.ceil(float(raw) * 2) / 2)
    return dpr if dpr > 1 else None


def _hinted(
    params: Mapping[str, str], spec: Spec, preset: str | None, hints: Hints, policy: Policy, accept: str | None
) -> tuple[Spec, tuple[str, ...]]:
    """``spec`` with the client hints folded in, and the hint headers it depended on."""
    merged = {name: value for name, value in params.items() if name not in REQUEST_PARAMS}
    if preset is not None:
        merged = {**policy.presets[preset], **merged}
    if "w" not in merged and "h" not in merged:
        header = SEC_CH_WIDTH
        width = hint_width(hints.width, policy.unsigned.widths or HINT_WIDTHS)
        if width is None:
            return spec, (header,)
        merged["w"] = str(width)
        if merged.get("dpr") == "auto":
            del merged["dpr"]  # the width hint is in physical pixels already
    elif merged.get("dpr") == "auto":
        header = SEC_CH_DPR
        dpr = hint_dpr(hints.dpr)
        if dpr is None:
            return spec, (header,)
        merged["dpr"] = str(dpr)
    else:
        return spec, ()
    try:
        hinted = build(merged).with_accept(accept)
    except InvalidSpecError:  # w or h times the hinted dpr beyond the largest side
        return spec, (header,)
    if policy.signed and not policy.unsigned.allows(hinted, policy.preset_specs):
        return spec, (header,)
    return hinted, (header,)


def route(
    raw_path: str,
    query: str,
    accept: str | None,
    policy: Policy,
    *,
    now: float,
    trust_path_form: bool = False,
    hints: Hints | None = None,
) -> Route:
    """Resolve a query-form or canonical path-form request to its variant, or raise a typed error.

    With ``trust_path_form`` the canonical path form skips the policy: behind CloudFront only the edge
    function, which has already checked it, can send that form. With ``hints`` (client hints enabled),
    an unsigned query-form transform may take its width or dpr from them (see the module's docstring).
    """
    vary_hints: tuple[str, ...] = ()
    path = parse_path(raw_path)
    params = split_query(query)
    if path.canonical is not None:
        extra = sorted(set(params) - (REQUEST_PARAMS - {"p"}))
        if extra:
            raise InvalidSpecError("the canonical path form takes only s and exp", param=extra[0])
        request = parse_params(params)
        spec, vary = path.canonical, False
    else:
        request = parse_params(params, presets=policy.presets, accept=accept)
        spec, vary = request.spec, request.spec.negotiated
        if hints is not None and request.signature is None and not spec.is_identity:
            spec, vary_hints = _hinted(params, spec, request.preset, hints, policy, accept)
    if not (trust_path_form and path.canonical is not None):
        policy.authorize(path.key, spec, signature=request.signature, expires=request.expires, now=now)
    return Route(
        path.key,
        spec,
        variant_key(path.key, spec),
        variant_path(path.key, spec),
        vary,
        request.signature,
        request.expires,
        vary_hints,
    )
