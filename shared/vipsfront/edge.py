"""The viewer-request step, in Python: what the CloudFront Function does at the edge.

``route`` turns a request (path, query, ``Accept``) into the canonical variant it names, after the
signature and unsigned-policy checks, or raises the typed error the edge answers with. The local server
runs it in front of the origin; ``functions/edge/viewer_request.js`` is its JavaScript twin and
``tests/vectors/*.json`` holds the cases both must pass.
"""

from __future__ import annotations

from dataclasses import dataclass

from vipsfront.errors import InvalidSpecError
from vipsfront.policy import Policy
from vipsfront.spec import (
    REQUEST_PARAMS,
    Spec,
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

    @property
    def location(self) -> str:
        """The canonical URL of this variant, signed as the request was (for redirects)."""
        query = "&".join(
            f"{name}={value}" for name, value in (("s", self.signature), ("exp", self.expires)) if value
        )
        return f"{self.uri}?{query}" if query else self.uri


def route(
    raw_path: str,
    query: str,
    accept: str | None,
    policy: Policy,
    *,
    now: float,
    trust_path_form: bool = False,
) -> Route:
    """Resolve a query-form or canonical path-form request to its variant, or raise a typed error.

    With ``trust_path_form`` the canonical path form skips the policy: behind CloudFront only the edge
    function, which has already checked it, can send that form.
    """
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
    )
