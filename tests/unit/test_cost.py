"""The cost model against figures worked out by hand from the default prices."""

from __future__ import annotations

import pytest

from vipsfront.config.cost import (
    GIB,
    Architecture,
    CostBreakdown,
    CostModel,
    Prices,
    S3Requests,
    billed_ms,
    per_million,
    s3_requests,
)
from vipsfront.telemetry import Outcome, RequestRecord


def record(outcome: Outcome, status: int = 200, total_ms: float = 0.0, output_bytes: int = 0) -> RequestRecord:
    return RequestRecord(
        key="photos/cat.jpg",
        outcome=outcome,
        status=status,
        output_bytes=output_bytes,
        timings={"total": total_ms},
    )


def test_default_prices_are_the_dated_us_east_1_list_prices() -> None:
    p = Prices()
    assert p.lambda_gb_s_x86_64 == 0.0000166667
    assert p.lambda_gb_s_arm64 == 0.0000133334
    assert p.lambda_requests_per_million == 0.20
    assert p.s3_get_per_1000 == 0.0004
    assert p.s3_put_per_1000 == 0.005
    assert p.egress_per_gb == 0.085


def test_miss_on_arm64_with_variant_lookup() -> None:
    # 1024 MB = 1 GB; 120.3 ms is billed as 121 ms -> 0.121 GB-s
    model = CostModel(Prices(), memory_mb=1024, architecture=Architecture.ARM64)
    cost = model.estimate(record(Outcome.MISS, total_ms=120.3, output_bytes=GIB // 1000))
    assert cost.lambda_compute == pytest.approx(0.121 * 0.0000133334)  # 1.6133414e-06
    assert cost.lambda_request == pytest.approx(2e-7)
    assert cost.s3_get == pytest.approx(2 * 4e-7)  # variant lookup + GET original
    assert cost.s3_put == pytest.approx(5e-6)  # PUT variant
    assert cost.egress == pytest.approx(0.085 / 1000)
    expected_total = 1.6133414e-6 + 2e-7 + 8e-7 + 5e-6 + 8.5e-5
    assert cost.total == pytest.approx(expected_total)
    assert cost.as_dict()["total"] == pytest.approx(expected_total)


def test_miss_on_x86_64_without_variant_lookup() -> None:
    # 2048 MB = 2 GB; 250 ms exactly -> 0.5 GB-s at the x86_64 price
    model = CostModel(Prices(), memory_mb=2048, architecture=Architecture.X86_64, variant_lookup=False)
    cost = model.estimate(record(Outcome.MISS, total_ms=250.0, output_bytes=0))
    assert cost.lambda_compute == pytest.approx(0.5 * 0.0000166667)  # 8.33335e-06
    assert cost.s3_get == pytest.approx(4e-7)  # GET original, no lookup
    assert cost.s3_put == pytest.approx(5e-6)
    assert cost.egress == 0.0


def test_hit_costs_lambda_and_one_get() -> None:
    # 512 MB = 0.5 GB; 7.01 ms billed as 8 ms -> 0.004 GB-s
    model = CostModel(Prices(), memory_mb=512, architecture=Architecture.ARM64)
    cost = model.estimate(record(Outcome.HIT, total_ms=7.01, output_bytes=40_000))
    assert cost.lambda_compute == pytest.approx(0.004 * 0.0000133334)
    assert cost.lambda_request == pytest.approx(2e-7)
    assert cost.s3_get == pytest.approx(4e-7)
    assert cost.s3_put == 0.0
    assert cost.egress == pytest.approx(40_000 / GIB * 0.085)


def test_duration_is_billed_in_whole_milliseconds_and_at_least_one() -> None:
    assert billed_ms(0.0) == 1
    assert billed_ms(1.0) == 1
    assert billed_ms(1.0001) == 2
    assert billed_ms(99.999) == 100


@pytest.mark.parametrize(
    ("outcome", "status", "lookup", "gets", "puts"),
    [
        (Outcome.HIT, 200, True, 1, 0),
        (Outcome.MISS, 200, True, 2, 1),
        (Outcome.MISS, 307, False, 1, 1),
        (Outcome.NOT_MODIFIED, 304, True, 1, 0),
        (Outcome.ERROR, 400, True, 0, 0),
        (Outcome.ERROR, 403, True, 0, 0),
        (Outcome.ERROR, 404, True, 2, 0),
        (Outcome.ERROR, 413, False, 1, 0),
        (Outcome.ERROR, 422, True, 2, 0),
        (Outcome.ERROR, 503, True, 2, 0),
    ],
)
def test_s3_requests_by_outcome(outcome: Outcome, status: int, lookup: bool, gets: int, puts: int) -> None:
    requests = s3_requests(record(outcome, status), variant_lookup=lookup)
    assert (requests.gets, requests.puts) == (gets, puts)


def test_not_modified_costs_what_was_served_underneath_but_no_egress() -> None:
    model = CostModel(memory_mb=1024, variant_lookup=True)
    after_hit = RequestRecord(
        outcome=Outcome.NOT_MODIFIED, status=304, output_bytes=10_000, timings={"s3-variant": 3, "total": 4}
    )
    after_miss = RequestRecord(
        outcome=Outcome.NOT_MODIFIED,
        status=304,
        output_bytes=10_000,
        timings={"s3-variant": 3, "s3-read": 5, "transform": 20, "s3-write": 6, "total": 35},
    )
    hit_cost, miss_cost = model.estimate(after_hit), model.estimate(after_miss)
    assert (hit_cost.s3_get, hit_cost.s3_put, hit_cost.egress) == (pytest.approx(4e-7), 0.0, 0.0)
    assert (miss_cost.s3_get, miss_cost.s3_put, miss_cost.egress) == (
        pytest.approx(8e-7),  # lookup + GET original
        pytest.approx(5e-6),
        0.0,
    )


def test_errors_pay_no_egress() -> None:
    model = CostModel(memory_mb=1024)
    assert model.estimate(record(Outcome.ERROR, status=404, total_ms=3, output_bytes=120)).egress == 0.0


def test_bad_spec_costs_only_the_invocation() -> None:
    model = CostModel(memory_mb=1024)
    cost = model.estimate(record(Outcome.ERROR, status=400, total_ms=2.0))
    assert cost.total == pytest.approx(0.002 * 0.0000133334 + 2e-7)


def test_per_million_scales_every_component() -> None:
    one = CostBreakdown(lambda_compute=1e-6, lambda_request=2e-7, s3_get=4e-7, s3_put=5e-6, egress=1e-5)
    million = per_million(one)
    assert million.lambda_compute == pytest.approx(1.0)
    assert million.lambda_request == pytest.approx(0.2)
    assert million.s3_get == pytest.approx(0.4)
    assert million.s3_put == pytest.approx(5.0)
    assert million.egress == pytest.approx(10.0)
    assert million.total == pytest.approx(16.6)
    assert (one + one).total == pytest.approx(2 * one.total)


def test_architecture_parsing() -> None:
    assert Architecture.parse("arm64") is Architecture.ARM64
    assert Architecture.parse("X86_64") is Architecture.X86_64
    assert Architecture.parse("x86-64") is Architecture.X86_64
    assert CostModel(architecture="x86_64").architecture is Architecture.X86_64  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="arm64 or x86_64"):
        Architecture.parse("sparc")
    with pytest.raises(ValueError, match="memory_mb"):
        CostModel(memory_mb=0)


def test_a_lookup_the_origin_made_with_the_setting_off_is_counted() -> None:
    """Behind CloudFront the setting is off, but a dialect URL served by the origin alone is looked up: its
    record's ``s3-variant`` timing says so, and the lookup GET is counted."""
    looked = RequestRecord(outcome=Outcome.MISS, status=200, timings={"s3-variant": 3.0, "transform": 20.0})
    assert s3_requests(looked, variant_lookup=False) == S3Requests(gets=2, puts=1)
    not_looked = RequestRecord(outcome=Outcome.MISS, status=200, timings={"transform": 20.0})
    assert s3_requests(not_looked, variant_lookup=False) == S3Requests(gets=1, puts=1)
