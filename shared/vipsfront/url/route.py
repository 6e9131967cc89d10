"""The viewer-request step, in Python: what the CloudFront Function does at the edge.

``route`` turns a request (path, query, ``Accept``) into the canonical variant it names, after the
signature and unsigned-policy checks, or raises the typed error the edge answers with. The local server
runs it in front of the origin; ``functions/edge/viewer_request.js`` is its JavaScript twin and
``tests/vectors/*.json`` holds the cases both must pass.

Client hints (query form, unsigned, with at least one spec parameter: never the bare original): with
no ``w``/``h`` (and no ``dpr`` but ``auto``), the width comes from ``Sec-CH-Width`` (physical pixels,
which browsers send for an ``<img sizes>``), rounded up to the next allowed width (the unsigned policy's
list, else ``breakpoints.BREAKPOINT_WIDTHS``); ``dpr=auto`` takes the ratio from ``Sec-CH-DPR``,
rounded up to a multiple of 0.5 from 1 to 4 (``1`` without it). DPR is opt-in per URL because a
``srcset`` candidate already carries it: applying it again would double the size. A hint is folded into
the query's values (preset already expanded) before the spec is built, like ``dpr``, so the canonical
form, the cache key and the variant key stay deterministic; a hint that would give a spec the policy
refuses is ignored, never an error. The CloudFront Function folds them the same way (the vectors
carry hint cases), so behind CloudFront the hinted spec is in the rewritten URI, the cache key.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import quote

from vipsfront.errors import InvalidSpecError
from vipsfront.url.breakpoints import BREAKPOINT_WIDTHS
from vipsfront.url.dialects.base import Options
from vipsfront.url.dialects.choice import NATIVE, Dialects
from vipsfront.url.grammar import DPR_AUTO
from vipsfront.url.keys import parse_path, variant_key, variant_path
from vipsfront.url.policy import Policy
from vipsfront.url.query import Params, read_params, split_query
from vipsfront.url.signing import sign
from vipsfront.url.spec import Spec, format_value


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
    path_form: bool = False  # the request was in the canonical path form (behind CloudFront, the edge's)

    @property
    def location(self) -> str:
        """The canonical URL of this variant, signed as the request was (for redirects)."""
        query = "&".join(f"{name}={value}" for name, value in (("s", self.signature), ("exp", self.expires)) if value)
        return f"{self.uri}?{query}" if query else self.uri


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


def _fold_hints(values: Mapping[str, str], hints: Hints, policy: Policy) -> tuple[dict[str, str] | None, str | None]:
    """``values`` with a client hint folded in (``None`` when none applies) and the header it depends on."""
    if "w" in values or "h" in values:
        if values.get("dpr") != DPR_AUTO:
            return None, None
        dpr = hint_dpr(hints.dpr)
        return ({**values, "dpr": format_value(dpr)} if dpr is not None else None), SEC_CH_DPR
    if values.get("dpr", DPR_AUTO) != DPR_AUTO:
        return None, None  # an explicit dpr needs an explicit size
    width = hint_width(hints.width, policy.unsigned.widths or BREAKPOINT_WIDTHS)
    if width is None:
        return None, SEC_CH_WIDTH
    # the width hint is in physical pixels already: it replaces dpr=auto
    return {**{name: raw for name, raw in values.items() if name != "dpr"}, "w": str(width)}, SEC_CH_WIDTH


def _spec(params: Params, accept: str | None, policy: Policy, hints: Hints | None) -> tuple[Spec, tuple[str, ...]]:
    """The spec of a query-form request, with a client hint folded into its values when one applies,
    and the hint headers it depended on. A hinted spec that is invalid (a side times the hinted dpr
    beyond the largest) or that the unsigned policy refuses gives way to the spec without the hint."""
    if hints is None or params.signature is not None or not set(params.values) - {"v"}:
        return params.spec(accept), ()
    hinted, header = _fold_hints(params.values, hints, policy)
    vary = (header,) if header else ()
    if hinted is not None:
        try:
            spec = replace(params, values=hinted).spec(accept)
        except InvalidSpecError:
            pass
        else:
            if not policy.signed or policy.unsigned.allows(spec, policy.preset_specs):
                return spec, vary
    return params.spec(accept), vary


def route(
    raw_path: str,
    query: str,
    accept: str | None,
    policy: Policy,
    *,
    now: float,
    trust_path_form: bool = False,
    hints: Hints | None = None,
    dialects: Dialects | None = None,
) -> Route:
    """Resolve a query-form or canonical path-form request to its variant, or raise a typed error.

    With ``trust_path_form`` the canonical path form skips the policy: behind CloudFront only the edge
    function, which has already checked it, can send that form. With ``hints`` (client hints enabled),
    an unsigned query-form transform may take its width or dpr from them (see the module's docstring).
    With ``dialects``, a path under a dialect's prefix is read by that dialect (``_translated``).
    """
    chosen = dialects.choose(raw_path) if dialects else None
    if dialects and chosen and chosen[0].dialect != NATIVE:
        return _translated(dialects, *chosen, query, accept, policy, now=now)
    raw_path = chosen[1] if chosen else raw_path  # a prefix is never part of the key
    path = parse_path(raw_path)
    pairs = split_query(query)
    vary_hints: tuple[str, ...]
    if path.canonical is not None:
        extra = sorted(set(pairs) - {"s", "exp"})
        if extra:
            raise InvalidSpecError("the canonical path form takes only s and exp", param=extra[0])
        params = read_params(pairs)
        spec, vary_accept, vary_hints = path.canonical, False, ()
    else:
        params = read_params(pairs, policy.presets)
        spec, vary_hints = _spec(params, accept, policy, hints)
        vary_accept = spec.negotiated
    if not (trust_path_form and path.canonical is not None):
        policy.authorize(path.key, spec, signature=params.signature, expires=params.expires, now=now)
    return Route(
        path.key,
        spec,
        variant_key(path.key, spec),
        variant_path(path.key, spec),
        vary_accept,
        params.signature,
        params.expires,
        vary_hints,
        path_form=path.canonical is not None,
    )


def _translated(
    dialects: Dialects, options: Options, path: str, query: str, accept: str | None, policy: Policy, *, now: float
) -> Route:
    """A dialect's request, judged as its native twin is: by the unsigned policy, unless it carries a
    verified signature of the dialect's own (which stands for ``s``); the published prefixes always."""
    translated = dialects.translate(options, path, query, now=now)
    spec = Params(translated.values).spec(accept)
    if translated.signed:
        policy.check_key(translated.key)
    else:
        policy.authorize(translated.key, spec, signature=None, expires=None, now=now)
    key = translated.key
    return Route(key, spec, variant_key(key, spec), variant_path(key, spec), spec.negotiated)


def with_version(raw_path: str, query: str, routed: Route, version: str, keys: Mapping[str, bytes]) -> str:
    """The URL of the request ``raw_path?query`` (routed to ``routed``) naming ``version`` instead of its ``v``:
    where a request for an old (or made-up) version of an original is redirected.

    A query-form request keeps its own query, ``v`` replaced (``fm=auto``, presets, ``dpr`` and client hints
    resolve again on the next request, as they did on this one); a canonical path-form request (behind
    CloudFront) gets the canonical path of the same spec at ``version``. A signed request is signed again
    with its own key id (and expiry), since ``v`` is part of what a signature covers; a key id not in
    ``keys`` leaves the URL unsigned.
    """
    spec = replace(routed.spec, v=version)
    signature = None
    if routed.signature is not None:
        kid = routed.signature.partition(".")[0]
        if kid in keys:
            signature = sign(routed.key, spec, kid, keys[kid], routed.expires)
    if parse_path(raw_path).canonical is not None:
        return replace(routed, spec=spec, uri=variant_path(routed.key, spec), signature=signature).location
    pieces = []
    for piece in query.split("&"):
        name = piece.partition("=")[0]
        if name == "v":
            pieces.append(f"v={version}")
        elif name == "s":
            if signature is not None:
                pieces.append(f"s={quote(signature, safe='.')}")
        elif piece:
            pieces.append(piece)
    return f"{raw_path}?{'&'.join(pieces)}"
