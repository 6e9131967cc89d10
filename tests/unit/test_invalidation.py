"""Invalidation plans: exact canonical paths, wildcards when long, CloudFront's quotas, stable references."""

from __future__ import annotations

import pytest

from vipsfront.lifecycle.invalidation import (
    InvalidationLimits,
    OriginalChange,
    RetryPolicy,
    paths_for,
    plan,
    wildcard_path,
)
from vipsfront.url.keys import info_key, info_path, variant_key, variant_path
from vipsfront.url.query import parse_query


def listing(key: str, *queries: str, info: bool = True) -> tuple[str, ...]:
    """What the variants bucket lists under ``{key}/_vf/`` after requests with ``queries``."""
    keys = [variant_key(key, parse_query(query).spec) for query in queries]
    return tuple(keys + ([info_key(key)] if info else []))


def test_exact_paths_are_the_uris_the_edge_writes() -> None:
    key = "photos/summer 2024/cat (1).jpg"
    queries = ("w=400&fm=webp", "", "w=800&h=600&fit=contain&bg=fff&fm=jpeg")
    paths = paths_for(key, listing(key, *queries))
    expected = {variant_path(key, parse_query(query).spec) for query in queries}
    assert paths == expected | {info_path(key)}
    # the origin form the edge writes (keys.origin_key), for the info document too (keys.info_path)
    assert "/photos/summer~202024/cat~20~281~29.jpg/_vf/original" in paths
    assert "/photos/summer~202024/cat~20~281~29.jpg/_vf/w=400,fm=webp" in paths
    assert info_path(key) == "/photos/summer~202024/cat~20~281~29.jpg/_vf/info"
    assert not any("?" in path or "*" in path for path in paths)


def test_an_original_without_variants_still_invalidates_its_info() -> None:
    assert paths_for("a.jpg", ()) == {"/a.jpg/_vf/info"}


def test_long_listing_becomes_one_wildcard() -> None:
    key = "big.jpg"
    queries = [f"w={w}" for w in range(100, 131)]
    limits = InvalidationLimits(wildcard_above=30)
    assert paths_for(key, listing(key, *queries), limits) == {"/big.jpg/_vf/*", "/big.jpg/_vf/info"}
    assert len(paths_for(key, listing(key, *queries[:30]), limits)) == 31


def test_a_name_that_is_not_canonical_falls_back_to_the_wildcard() -> None:
    stored = ("x.jpg/_vf/w=400", "x.jpg/_vf/fm=webp,w=400", "x.jpg/_vf/junk")
    assert paths_for("x.jpg", stored) == {wildcard_path("x.jpg"), info_path("x.jpg")}


def test_wildcard_covers_only_this_original() -> None:
    # "a.jpg" must not purge "a.jpg2/..." or "a.jpg-large": the wildcard sits after the _vf segment
    assert wildcard_path("a.jpg") == "/a.jpg/_vf/*"
    assert wildcard_path("dir/*star.jpg") == "/dir/~2Astar.jpg/_vf/*"  # a literal * in a key is escaped


def test_listing_from_another_original_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        paths_for("a.jpg", ("b.jpg/_vf/w=1",))


def test_keys_that_arrive_together_share_one_invalidation() -> None:
    changes = [OriginalChange(key, listing(key, "w=200", "w=400"), "etag-1") for key in ("a.jpg", "b.png", "c.gif")]
    result = plan(changes)
    assert len(result.batches) == 1
    batch = result.batches[0]
    assert batch.keys == ("a.jpg", "b.png", "c.gif")
    assert len(batch.paths) == 9 and list(batch.paths) == sorted(batch.paths)
    assert result.path_count == 9


def test_the_same_key_twice_is_merged() -> None:
    first = OriginalChange("a.jpg", listing("a.jpg", "w=200"), "etag-1")
    then = OriginalChange("a.jpg", listing("a.jpg", "w=400"), "seq-2")
    (batch,) = plan([first, then]).batches
    assert batch.keys == ("a.jpg",)
    assert set(batch.paths) == {"/a.jpg/_vf/w=200", "/a.jpg/_vf/w=400", "/a.jpg/_vf/info"}


def test_batches_respect_the_path_quota_and_never_split_an_original() -> None:
    limits = InvalidationLimits(max_paths=10, max_wildcards=15, wildcard_above=5)
    changes = [OriginalChange(f"k{i:02d}.jpg", listing(f"k{i:02d}.jpg", "w=1", "w=2", "w=3"), "r") for i in range(7)]
    result = plan(changes, limits)
    assert all(len(batch.paths) <= 10 for batch in result.batches)
    assert [len(batch.keys) for batch in result.batches] == [2, 2, 2, 1]  # 4 paths each: 2 per batch of 10
    covered = [key for batch in result.batches for key in batch.keys]
    assert covered == sorted(change.key for change in changes)


def test_batches_respect_the_wildcard_quota() -> None:
    limits = InvalidationLimits(max_wildcards=15, wildcard_above=2)
    changes = [OriginalChange(f"k{i:02d}.jpg", listing(f"k{i:02d}.jpg", "w=1", "w=2", "w=3"), "r") for i in range(40)]
    result = plan(changes, limits)
    assert [batch.wildcards for batch in result.batches] == [15, 15, 10]
    assert result.path_count == 80  # a wildcard and an info path per original


def test_default_limits_are_cloudfronts() -> None:
    limits = InvalidationLimits()
    assert (limits.max_paths, limits.max_wildcards) == (3000, 15)
    result = plan(OriginalChange(f"k{i}.jpg", listing(f"k{i}.jpg", "w=1", "w=2")) for i in range(1500))
    assert [len(batch.paths) for batch in result.batches] == [3000, 1500]


@pytest.mark.parametrize(
    "kwargs",
    [{"max_paths": 1}, {"max_wildcards": 0}, {"wildcard_above": -1}, {"max_paths": 10, "wildcard_above": 10}],
)
def test_limits_are_checked(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        InvalidationLimits(**kwargs)


def test_caller_reference_is_deterministic_and_names_the_change() -> None:
    a = OriginalChange("a.jpg", listing("a.jpg", "w=200", "w=400"), "etag-1")
    b = OriginalChange("b.jpg", listing("b.jpg", "w=200"), "etag-9")
    ref = plan([a, b]).batches[0].caller_reference
    # same change redelivered, in any order, with the listing in any order: same reference
    shuffled = OriginalChange("a.jpg", tuple(reversed(a.variant_keys)), "etag-1")
    assert plan([b, shuffled]).batches[0].caller_reference == ref
    # the same original changed again later (same paths, new ETag): a new invalidation
    assert plan([OriginalChange("a.jpg", a.variant_keys, "etag-2"), b]).batches[0].caller_reference != ref
    assert len(ref) <= 128 and ref.isascii()


def test_retry_schedule() -> None:
    policy = RetryPolicy(attempts=6, first_delay_s=5, factor=2, max_delay_s=30, jitter=0.2)
    assert policy.schedule() == (5, 10, 20, 30, 30)
    assert policy.delay(1, rand=0.0) == pytest.approx(4.0)
    assert policy.delay(1, rand=0.999999) == pytest.approx(6.0, abs=1e-4)
    assert RetryPolicy(attempts=1).schedule() == ()
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)
