"""The spec parser and canonical form: properties over all inputs, plus the cases vectors can't express."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vipsfront.errors import InvalidKeyError, InvalidSpecError, VipsfrontError
from vipsfront.url.grammar import build, parse_canonical, to_query
from vipsfront.url.keys import parse_path, variant_key, variant_prefix
from vipsfront.url.negotiation import negotiate
from vipsfront.url.query import check_presets, parse_query
from vipsfront.url.rounding import round_half_up
from vipsfront.url.spec import IDENTITY, Fit, Fm, Spec

decimals = st.builds(lambda i, f: f"{i}.{f}", st.integers(0, 9), st.integers(0, 9999))
raw_values = {
    "w": st.integers(1, 8192).map(str),
    "h": st.integers(1, 8192).map(str),
    "dpr": st.sampled_from(["1", "1.5", "2", "2.625", "3", "4"]),
    "fit": st.sampled_from([f.value for f in Fit]),
    "pos": st.sampled_from(["center", "top", "left", "bottom-right", "attention", "entropy", "north", "centre"]),
    "fx": st.sampled_from(["0", "0.25", "0.5", "1", "0.3333"]),
    "fy": st.sampled_from(["0", "0.75", "1.0"]),
    "enlarge": st.sampled_from(["0", "1", "true", "false"]),
    "fm": st.sampled_from(["auto", "avif", "webp", "jpeg", "jpg", "png", "gif", "auto-webp"]),
    "q": st.integers(1, 100).map(str),
    "blur": st.sampled_from(["0.3", "1", "2.5", "100"]),
    "sharpen": st.sampled_from(["0.3", "1", "9.99"]),
    "rot": st.sampled_from(["0", "90", "180", "270"]),
    "flip": st.sampled_from(["h", "v", "hv", "vh"]),
    "bg": st.sampled_from(["fff", "FFFFFF", "11223344", "%23abc", "000000ff"]),
}


@st.composite
def queries(draw: st.DrawFn) -> str:
    names = draw(st.lists(st.sampled_from(sorted(raw_values)), unique=True))
    return "&".join(f"{name}={draw(raw_values[name])}" for name in names)


@settings(max_examples=400)
@given(queries(), st.sampled_from([None, "*/*", "image/webp", "image/avif,image/webp"]))
def test_accepted_queries_round_trip_through_the_canonical_form(query: str, accept: str | None) -> None:
    try:
        spec = parse_query(query, accept=accept).spec
    except InvalidSpecError as error:
        # Valid values can still combine badly: dpr without a size, or a side pushed over the cap by dpr.
        assert error.param in {"dpr", "w", "h"}
        return
    text = spec.canonical()
    assert parse_canonical(text or "original") == spec
    # The query form negotiates fm=auto again, so it round-trips under the same Accept header.
    assert parse_query(to_query(spec), accept=accept).spec == spec


@settings(max_examples=300)
@given(st.text(max_size=200))
def test_any_query_parses_or_raises_the_typed_error(query: str) -> None:
    try:
        parse_query(query, accept="image/avif")
    except InvalidSpecError as error:
        assert error.status == 400 and error.message


@settings(max_examples=300)
@given(st.dictionaries(st.sampled_from(sorted(raw_values)), st.text(max_size=12), max_size=5))
def test_any_values_parse_or_name_a_parameter(params: dict[str, str]) -> None:
    try:
        build(params)
    except InvalidSpecError as error:
        assert error.param in params


@settings(max_examples=300)
@given(st.text(max_size=120))
def test_any_path_parses_or_raises_a_typed_error(path: str) -> None:
    try:
        parsed = parse_path("/" + path)
    except VipsfrontError as error:
        assert error.status == 400
    else:
        assert "/_vf/" not in "/" + parsed.key + "/"


def test_equal_images_have_equal_canonical_forms() -> None:
    a = parse_query("w=200&h=100&dpr=2&fit=cover&pos=center&fm=jpg&enlarge=0").spec
    b = parse_query("fm=jpeg&h=200&w=400").spec
    assert a == b
    assert a.canonical() == "w=400,h=200,fm=jpeg"


def test_identity_has_no_canonical_text_and_a_distinct_variant() -> None:
    assert IDENTITY.canonical() == ""
    assert parse_query("").spec.is_identity
    assert variant_key("a/b.jpg", IDENTITY) == "a/b.jpg/_vf/original"


def test_variant_keys_are_listable_per_original() -> None:
    spec = Spec(w=10)
    own = variant_key("a", spec)
    nested = variant_key("a/b", spec)
    assert own.startswith(variant_prefix("a"))
    assert not nested.startswith(variant_prefix("a"))  # "a/b" is another original


def test_presets_expand_before_explicit_params() -> None:
    presets = {"card": {"w": "300", "h": "200", "fit": "contain", "bg": "000"}}
    request = parse_query("p=card&h=150", presets=presets)
    assert request.spec.canonical() == "w=300,h=150,fit=contain,bg=000000"
    assert request.preset == "card"


def test_bad_presets_fail_at_start_up() -> None:
    with pytest.raises(InvalidSpecError):
        check_presets({"x": {"w": "0"}})
    with pytest.raises(InvalidSpecError):
        check_presets({"Bad Name": {"w": "10"}})
    with pytest.raises(InvalidSpecError):
        check_presets({"x": {"s": "k.sig"}})


@pytest.mark.parametrize(
    ("accept", "expected"),
    [
        ("image/avif,image/webp,*/*", Fm.AUTO_AVIF_WEBP),
        ("image/webp", Fm.AUTO_WEBP),
        ("image/avif;q=0.5", Fm.AUTO_AVIF),
        ("image/*,*/*", Fm.AUTO),
        ("image/avif;q=0, image/webp;q=0", Fm.AUTO),
        ("image/avif;q=oops", Fm.AUTO),
        (None, Fm.AUTO),
    ],
)
def test_negotiate(accept: str | None, expected: Fm) -> None:
    assert negotiate(accept) is expected


@pytest.mark.parametrize(
    ("query", "background"),
    [("bg=F0a", (255, 0, 170, 255)), ("bg=%2311223344", (17, 34, 51, 68)), ("bg=000000ff", (0, 0, 0, 255)), ("", None)],
)
def test_bg_is_read_once_and_decoded_from_its_canonical_form(
    query: str, background: tuple[int, int, int, int] | None
) -> None:
    assert parse_query(query).spec.background == background


@pytest.mark.parametrize(("value", "expected"), [(2.5, 3), (3.5, 4), (-2.5, -2), (0.49999, 0), (199.5, 200)])
def test_rounding_is_half_up_like_javascript(value: float, expected: int) -> None:
    assert round_half_up(value) == expected
    assert parse_query("w=5&dpr=2.5").spec.w == 13  # 12.5 -> 13, where round() gives 12


def test_error_names_the_parameter_and_what_is_allowed() -> None:
    with pytest.raises(InvalidSpecError) as caught:
        parse_query("fit=squash&w=1&h=1")
    assert caught.value.param == "fit"
    assert "cover" in caught.value.message and "contain" in caught.value.message
    assert caught.value.to_dict() == {"error": caught.value.message, "code": "invalid_spec", "param": "fit"}


def test_long_keys_are_refused() -> None:
    with pytest.raises(InvalidKeyError):
        parse_path("/" + "a" * 901)
