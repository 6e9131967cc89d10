"""Client hints in the Python route (the CloudFront Function does not apply them; see vipsfront.url.route)."""

from __future__ import annotations

import pytest

from vipsfront.errors import InvalidSpecError
from vipsfront.url.breakpoints import BREAKPOINT_WIDTHS
from vipsfront.url.policy import Policy, UnsignedPolicy
from vipsfront.url.route import Hints, hint_dpr, hint_width, route
from vipsfront.url.signing import sign
from vipsfront.url.spec import Spec

CHROME = "image/avif,image/webp,image/apng,image/*,*/*;q=0.8"
SECRET = b"0123456789abcdef-secret"
OPEN = Policy.create()
SIGNED = Policy.create(keys={"k1": SECRET}, unsigned=UnsignedPolicy(widths=(320, 640, 1280)))


def routed(query: str, policy: Policy = OPEN, **hints: str) -> tuple[str, tuple[str, ...]]:
    result = route("/a.jpg", query, CHROME, policy, now=0, hints=Hints(**hints))
    return result.spec.canonical(), result.vary_hints


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", 16),
        ("640", 640),
        ("641", 750),
        ("3840", 3840),
        ("9999", 3840),
        ("0", None),
        ("-5", None),
        ("1.5", None),
        ("", None),
        (None, None),
        (" 700 ", 750),
        ("123456", None),
    ],
)
def test_width_hint_rounds_up_to_the_ladder(raw: str | None, expected: int | None) -> None:
    assert hint_width(raw, BREAKPOINT_WIDTHS) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1", None),
        ("0.5", None),
        ("1.25", 1.5),
        ("2", 2.0),
        ("2.625", 3.0),
        ("1.100000023841858", 1.5),
        ("7", 4.0),
        ("abc", None),
        ("", None),
        ("-2", None),
        ("2e0", None),
    ],
)
def test_dpr_hint_rounds_up_to_halves(raw: str, expected: float | None) -> None:
    assert hint_dpr(raw) == expected


def test_width_hint_fills_a_missing_width() -> None:
    assert routed("fm=auto", width="700") == ("w=750,fm=auto-avif-webp", ("Sec-CH-Width",))
    assert routed("fm=auto") == ("fm=auto-avif-webp", ("Sec-CH-Width",))  # varies even when absent
    assert routed("q=70&dpr=auto", width="640", dpr="2") == ("w=640,q=70", ("Sec-CH-Width",))  # physical px


def test_dpr_hint_needs_dpr_auto() -> None:
    # a srcset candidate (w=800 for 400 CSS px at 2x) must not be doubled again
    assert routed("w=800&fm=auto", dpr="2") == ("w=800,fm=auto-avif-webp", ())
    assert routed("w=400&dpr=auto", dpr="2") == ("w=800", ("Sec-CH-DPR",))
    assert routed("w=400&h=300&dpr=auto", dpr="2.625") == ("w=1200,h=900", ("Sec-CH-DPR",))
    assert routed("w=400&dpr=auto") == ("w=400", ("Sec-CH-DPR",))
    assert routed("w=400&dpr=1.5", dpr="3") == ("w=600", ())


def test_hints_never_touch_the_original_or_explicit_sizes() -> None:
    assert routed("", width="700") == ("", ())
    assert routed("w=300", width="700") == ("w=300", ())
    assert routed("h=300&fm=webp", width="700") == ("h=300,fm=webp", ())


def test_hints_snap_to_the_unsigned_policy_or_are_dropped() -> None:
    assert routed("fm=auto", SIGNED, width="500") == ("w=640,fm=auto-avif-webp", ("Sec-CH-Width",))
    assert routed("fm=auto", SIGNED, width="5000") == ("w=1280,fm=auto-avif-webp", ("Sec-CH-Width",))
    assert routed("w=320&dpr=auto", SIGNED, dpr="2") == ("w=640", ("Sec-CH-DPR",))
    # 480 is not an allowed width: the hint is ignored rather than turned into a 403
    assert routed("w=320&dpr=auto", SIGNED, dpr="1.5") == ("w=320", ("Sec-CH-DPR",))
    # beyond the largest side: ignored too
    assert routed("w=4000&dpr=auto", OPEN, dpr="4") == ("w=4000", ("Sec-CH-DPR",))


def test_signed_urls_are_served_exactly_as_signed() -> None:
    signature = sign("a.jpg", Spec(w=333), "k1", SECRET)
    assert routed(f"w=333&dpr=auto&s={signature}", SIGNED, dpr="2") == ("w=333", ())


def test_the_canonical_path_form_ignores_hints() -> None:
    result = route("/a.jpg/_vf/w=400", "", CHROME, OPEN, now=0, hints=Hints(dpr="2", width="900"))
    assert (result.spec.canonical(), result.vary_hints) == ("w=400", ())


def test_hints_off() -> None:
    result = route("/a.jpg", "w=400&dpr=auto", CHROME, OPEN, now=0, hints=None)
    assert (result.spec.canonical(), result.vary_hints) == ("w=400", ())


def test_from_headers_reads_lower_case_names() -> None:
    assert Hints.from_headers({"sec-ch-dpr": "2", "sec-ch-width": "640"}) == Hints(dpr="2", width="640")


def test_hints_fold_into_a_presets_values() -> None:
    presets = {"hero": {"fm": "auto", "q": "70", "dpr": "auto"}, "card": {"w": "300", "dpr": "auto"}}
    policy = Policy.create(presets=presets)
    assert routed("p=hero", policy, width="700") == ("w=750,fm=auto-avif-webp,q=70", ("Sec-CH-Width",))
    assert routed("p=card", policy, dpr="2") == ("w=600", ("Sec-CH-DPR",))
    assert routed("p=card&w=100", policy, dpr="2") == ("w=200", ("Sec-CH-DPR",))  # explicit values win


def test_a_hint_never_makes_a_bad_query_good() -> None:
    with pytest.raises(InvalidSpecError) as caught:
        routed("dpr=2", width="700")  # dpr needs a size: a width hint does not give it one
    assert caught.value.param == "dpr"
    with pytest.raises(InvalidSpecError) as caught:
        routed("dpr=auto&q=0", width="700")
    assert caught.value.param == "q"
