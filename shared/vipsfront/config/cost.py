"""What one origin request costs, estimated from its ``RequestRecord``.

A small, pure model (standard library only): Lambda compute (GB-seconds by memory and architecture,
billed in 1 ms increments) and request price, S3 request classes (GET, PUT) and CloudFront egress
of the bytes sent. It is an estimate for dashboards and capacity planning, not a bill: free tiers, Lambda's
volume discounts above 6 billion GB-s a month, CloudFront's per-request fee, flat-rate plans and
cheaper egress tiers beyond the first 10 TB are left out. Lambda Function URLs themselves cost nothing
extra, and S3 to CloudFront transfer is free, so neither appears.

Prices are public on-demand list prices for us-east-1 (``PRICES_REGION``) as of ``PRICES_AS_OF``;
override any of them with ``VIPSFRONT_PRICE_*`` variables (read by ``vipsfront.config.settings``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from enum import StrEnum

from vipsfront.telemetry import Outcome, RequestRecord

PRICES_AS_OF = "2026-01"
PRICES_REGION = "us-east-1"

GIB = 1024**3  # AWS bills data transfer and Lambda memory in binary gigabytes
MS_PER_S = 1000


class Architecture(StrEnum):
    ARM64 = "arm64"
    X86_64 = "x86_64"

    @classmethod
    def parse(cls, raw: str) -> Architecture:
        value = raw.strip().lower().replace("-", "_")
        value = {"amd64": "x86_64", "x64": "x86_64", "aarch64": "arm64"}.get(value, value)
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"architecture must be arm64 or x86_64, not {raw!r}") from None


@dataclass(frozen=True, slots=True)
class Prices:
    """Unit prices in USD, in the units AWS's pricing pages use.

    Defaults: us-east-1 public list prices as of 2026-01 (``PRICES_AS_OF``).
    """

    lambda_gb_s_x86_64: float = 0.0000166667  # per GB-second, x86_64
    lambda_gb_s_arm64: float = 0.0000133334  # per GB-second, arm64 (Graviton)
    lambda_requests_per_million: float = 0.20
    s3_get_per_1000: float = 0.0004  # S3 Standard GET, SELECT and all other requests (HEAD included)
    s3_put_per_1000: float = 0.005  # S3 Standard PUT, COPY, POST, LIST
    egress_per_gb: float = 0.085  # CloudFront data transfer out to the internet, first 10 TB/month

    def lambda_gb_s(self, architecture: Architecture) -> float:
        if architecture is Architecture.ARM64:
            return self.lambda_gb_s_arm64
        return self.lambda_gb_s_x86_64


@dataclass(frozen=True, slots=True)
class CostBreakdown:
    """Estimated USD of one request (or a sum of requests), by what AWS bills."""

    lambda_compute: float = 0.0
    lambda_request: float = 0.0
    s3_get: float = 0.0
    s3_put: float = 0.0
    egress: float = 0.0

    @property
    def total(self) -> float:
        return self.lambda_compute + self.lambda_request + self.s3_get + self.s3_put + self.egress

    def scaled(self, factor: float) -> CostBreakdown:
        return CostBreakdown(
            lambda_compute=self.lambda_compute * factor,
            lambda_request=self.lambda_request * factor,
            s3_get=self.s3_get * factor,
            s3_put=self.s3_put * factor,
            egress=self.egress * factor,
        )

    def __add__(self, other: CostBreakdown) -> CostBreakdown:
        if not isinstance(other, CostBreakdown):
            return NotImplemented
        return CostBreakdown(
            lambda_compute=self.lambda_compute + other.lambda_compute,
            lambda_request=self.lambda_request + other.lambda_request,
            s3_get=self.s3_get + other.s3_get,
            s3_put=self.s3_put + other.s3_put,
            egress=self.egress + other.egress,
        )

    def as_dict(self) -> dict[str, float]:
        """Every component and the total, e.g. for a log line."""
        return {**{f.name: getattr(self, f.name) for f in fields(self)}, "total": self.total}


def per_million(cost: CostBreakdown) -> CostBreakdown:
    """The cost of a million requests like this one: the figure pricing discussions use."""
    return cost.scaled(1_000_000)


@dataclass(frozen=True, slots=True)
class S3Requests:
    gets: int = 0  # GET (and HEAD: the same request class)
    puts: int = 0


def s3_requests(record: RequestRecord, *, variant_lookup: bool = True) -> S3Requests:
    """The S3 requests the origin made for ``record``, from its outcome and status.

    - hit: the variant lookup GET that found it;
    - miss: the lookup GET (when enabled) that did not, the GET of the original, PUT of the variant;
    - not modified: the origin answers 304 after serving, so what the hit or miss underneath cost (a miss
      when the record has a ``transform`` or ``s3-write`` timing, else a hit);
    - error: none for 400/403 (rejected before storage); otherwise the lookup and the GET of the
      original (for 404/413 it is answered or stopped at its headers; for 415/422 and 5xx it was read
      and nothing stored).
    """
    # behind CloudFront (setting off) a request outside the canonical path form is still looked up: its timing says
    lookup = 1 if variant_lookup or "s3-variant" in record.timings else 0
    outcome = record.outcome
    if outcome is Outcome.NOT_MODIFIED:
        made = "transform" in record.timings or "s3-write" in record.timings
        outcome = Outcome.MISS if made else Outcome.HIT
    match outcome:
        case Outcome.HIT:
            return S3Requests(gets=1)
        case Outcome.MISS:
            return S3Requests(gets=lookup + 1, puts=1)
    if record.status in (400, 403):
        return S3Requests()
    return S3Requests(gets=lookup + 1)


def billed_ms(total_ms: float) -> int:
    """Lambda bills duration rounded up to the next millisecond, at least 1 ms."""
    return max(1, math.ceil(total_ms))


@dataclass(frozen=True, slots=True)
class CostModel:
    """Prices plus the function's shape: ``estimate(record)`` is the cost of one request."""

    prices: Prices = Prices()
    memory_mb: int = 1024
    architecture: Architecture = Architecture.ARM64
    variant_lookup: bool = True

    def __post_init__(self) -> None:
        if self.memory_mb <= 0:
            raise ValueError("memory_mb must be positive")
        if not isinstance(self.architecture, Architecture):
            object.__setattr__(self, "architecture", Architecture.parse(str(self.architecture)))

    def estimate(self, record: RequestRecord) -> CostBreakdown:
        total_ms = record.timings.get("total", 0.0)
        gb_s = (self.memory_mb / 1024) * billed_ms(total_ms) / MS_PER_S
        requests = s3_requests(record, variant_lookup=self.variant_lookup)
        p = self.prices
        return CostBreakdown(
            lambda_compute=gb_s * p.lambda_gb_s(self.architecture),
            lambda_request=p.lambda_requests_per_million / 1_000_000,
            s3_get=requests.gets * p.s3_get_per_1000 / 1000,
            s3_put=requests.puts * p.s3_put_per_1000 / 1000,
            egress=self.egress_bytes(record) / GIB * p.egress_per_gb,
        )

    @staticmethod
    def egress_bytes(record: RequestRecord) -> int:
        """Image bytes a viewer downloads through CloudFront (a 307's body follows from S3); none for 304s
        and errors, whose small bodies are left out."""
        return record.output_bytes if record.outcome in (Outcome.HIT, Outcome.MISS) else 0
