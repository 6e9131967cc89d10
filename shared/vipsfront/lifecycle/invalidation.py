"""Which CloudFront paths to invalidate when originals change, in batches CloudFront accepts (pure).

What CloudFront holds for an original ``key``: its cache key is the URI alone (no query, no headers), and
the edge function rewrites every image request, with or without parameters, to the canonical variant path
``/{encoded key}/_vf/{canonical}`` (``original`` for no parameters) before the cache is looked up. So the
query form ``/{key}?w=400`` is never a cache entry and needs no invalidation; the variant paths are exactly
the variant keys the variants bucket lists under ``{key}/_vf/`` (the bucket's expiry bounds CloudFront's
TTL, so the listing is complete). Besides them, the info document is cached for a few minutes under the
URI its edge function writes, ``/{origin form}/_vf/info`` (``keys.info_path``), and must not keep
answering the old version token, so it is always invalidated.

The plan (``plan``):

* one exact path per listed variant, built by ``keys.variant_path`` from the parsed canonical spec, so it
  is byte for byte the URI the edge writes;
* a wildcard ``/{encoded key}/_vf/*`` instead, for an original with more than ``wildcard_above`` variants
  (CloudFront bills a wildcard as one path) or with a listed name that is not a canonical spec;
* originals packed in order into batches of at most ``max_paths`` paths and ``max_wildcards`` wildcards,
  CloudFront's in-progress quotas per distribution (3,000 and 15), an original never split across two;
* a deterministic ``CallerReference`` per batch: a hash of its sorted paths and of each original's
  ``revision``. Retrying the same change (a queue redelivery) sends the same reference, which CloudFront
  answers with the first invalidation instead of a new one; a later change of the same original has a new
  revision, so it is invalidated again.

``RetryPolicy`` is the backoff schedule for ``TooManyInvalidationsInProgress``; the adapter in
``vipsfront.lifecycle.cloudfront`` sleeps it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

from vipsfront.errors import InvalidSpecError
from vipsfront.url.grammar import parse_canonical
from vipsfront.url.keys import INFO_TOKEN, info_path, variant_path, variant_prefix

__all__ = [
    "InvalidationBatch",
    "InvalidationLimits",
    "InvalidationPlan",
    "OriginalChange",
    "RetryPolicy",
    "paths_for",
    "plan",
    "wildcard_path",
]


@dataclass(frozen=True, slots=True)
class InvalidationLimits:
    """CloudFront's quotas per distribution (in progress at once) and when to prefer a wildcard."""

    max_paths: int = 3000
    max_wildcards: int = 15
    # More listed variants than this: one wildcard for the original. Exact paths cost one billed path each
    # but 3,000 can be in progress; a wildcard costs one path but only 15 can be in progress, so a burst of
    # wildcarded originals waits for earlier invalidations to complete.
    wildcard_above: int = 20

    def __post_init__(self) -> None:
        if self.max_paths < 2 or self.max_wildcards < 1 or self.wildcard_above < 0:
            raise ValueError("max_paths must be at least 2, max_wildcards at least 1, wildcard_above not negative")
        if self.wildcard_above + 1 > self.max_paths:
            raise ValueError("wildcard_above + 1 (the info path) must fit in max_paths")


@dataclass(frozen=True, slots=True)
class OriginalChange:
    """One created, replaced or deleted original and the variant keys listed under ``{key}/_vf/``.

    ``revision`` names the change: the new ETag or VersionId, or the S3 event's ``sequencer`` for a delete.
    The same change always gives the same batch reference; different changes give different ones.
    """

    key: str
    variant_keys: tuple[str, ...] = ()
    revision: str = ""


@dataclass(frozen=True, slots=True)
class InvalidationBatch:
    """One ``CreateInvalidation`` call."""

    paths: tuple[str, ...]  # sorted
    caller_reference: str
    keys: tuple[str, ...]  # the originals it covers, sorted

    @property
    def wildcards(self) -> int:
        return sum(path.endswith("*") for path in self.paths)


@dataclass(frozen=True, slots=True)
class InvalidationPlan:
    batches: tuple[InvalidationBatch, ...]

    @property
    def path_count(self) -> int:
        """Paths in all batches: what CloudFront bills (1,000 free a month, then a fee per path)."""
        return sum(len(batch.paths) for batch in self.batches)


def wildcard_path(key: str) -> str:
    """One path that covers every variant of ``key`` and nothing of any other original."""
    return "/" + variant_prefix(key) + "*"  # the origin form needs no encoding


def _exact(key: str, variant_keys: Iterable[str]) -> set[str] | None:
    """The variant paths for a listing, or None when one listed name is not a canonical variant."""
    prefix = variant_prefix(key)
    paths: set[str] = set()
    for stored in variant_keys:
        if not stored.startswith(prefix):
            raise ValueError(f"{stored!r} is not under {prefix!r}")
        token = stored[len(prefix) :]
        if token == INFO_TOKEN:
            continue  # its path is always in the plan
        try:
            paths.add(variant_path(key, parse_canonical(token)))
        except InvalidSpecError:
            return None
    return paths


def paths_for(key: str, variant_keys: Iterable[str], limits: InvalidationLimits = InvalidationLimits()) -> set[str]:  # noqa: B008
    """The paths that invalidate everything CloudFront may hold for ``key``, given its listed variants."""
    exact = _exact(key, variant_keys)
    variants = {wildcard_path(key)} if exact is None or len(exact) > limits.wildcard_above else exact
    return variants | {info_path(key)}


def _reference(paths: Iterable[str], revisions: Iterable[str]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(path.encode("utf-8") + b"\n")
    digest.update(b"\x00")
    for revision in sorted(revisions):
        digest.update(revision.encode("utf-8") + b"\n")
    return "vipsfront-" + digest.hexdigest()[:40]


def _batch(units: list[tuple[str, set[str], str]]) -> InvalidationBatch:
    paths = set().union(*(unit[1] for unit in units))
    keys = sorted(unit[0] for unit in units)
    revisions = [f"{key}\x00{revision}" for key, _, revision in units]
    return InvalidationBatch(
        paths=tuple(sorted(paths)), caller_reference=_reference(paths, revisions), keys=tuple(keys)
    )


def plan(changes: Iterable[OriginalChange], limits: InvalidationLimits = InvalidationLimits()) -> InvalidationPlan:  # noqa: B008
    """Batches that invalidate every changed original's cached paths; changes that arrive together share one.

    The same key twice (replaced, then deleted) is merged: the union of its listings, both revisions.
    """
    merged: dict[str, tuple[set[str], list[str]]] = {}
    for change in changes:
        listed, revisions = merged.setdefault(change.key, (set(), []))
        listed.update(change.variant_keys)
        revisions.append(change.revision)
    batches: list[InvalidationBatch] = []
    current: list[tuple[str, set[str], str]] = []
    paths = wildcards = 0
    for key in sorted(merged):
        listed, revisions = merged[key]
        unit_paths = paths_for(key, listed, limits)
        unit_wildcards = sum(path.endswith("*") for path in unit_paths)
        if current and (
            paths + len(unit_paths) > limits.max_paths or wildcards + unit_wildcards > limits.max_wildcards
        ):
            batches.append(_batch(current))
            current, paths, wildcards = [], 0, 0
        current.append((key, unit_paths, "\x00".join(sorted(revisions))))
        paths += len(unit_paths)
        wildcards += unit_wildcards
    if current:
        batches.append(_batch(current))
    return InvalidationPlan(batches=tuple(batches))


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Backoff for ``TooManyInvalidationsInProgress``: an invalidation takes from seconds to a few minutes
    to complete, so waits grow from ``first_delay_s`` by ``factor`` up to ``max_delay_s``."""

    attempts: int = 6  # calls in all, the first included
    first_delay_s: float = 5.0
    factor: float = 2.0
    max_delay_s: float = 120.0
    jitter: float = 0.2  # each wait is spread over ±20 %, so throttled workers do not retry in step

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.first_delay_s < 0 or self.factor < 1 or not 0 <= self.jitter < 1:
            raise ValueError("attempts >= 1, first_delay_s >= 0, factor >= 1 and 0 <= jitter < 1")

    def delay(self, retry: int, rand: float = 0.5) -> float:
        """Seconds to wait before retry number ``retry`` (1-based); ``rand`` in [0, 1) draws the jitter."""
        base = min(self.max_delay_s, self.first_delay_s * self.factor ** (retry - 1))
        return base * (1 + self.jitter * (2 * rand - 1))

    def schedule(self) -> tuple[float, ...]:
        """The waits between the attempts, without jitter: ``attempts - 1`` of them."""
        return tuple(self.delay(retry) for retry in range(1, self.attempts))
