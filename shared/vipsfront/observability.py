"""Powertools logger, tracer and metrics, built once; and the adapter that meters a ``RequestRecord``.

The tracer is built on first use (``tracer()``): making it imports the X-Ray SDK, whose recorder builds
X-Ray clients, a good part of the Lambda handler's import otherwise.

The pure core logs through ``logging.getLogger(__name__)`` and knows nothing of this module; the Lambda
handler wires ``record_metrics`` in as the app's observer. Metrics go to CloudWatch as EMF under the
``Vipsfront`` namespace (``vipsfront.config.settings.METRICS_NAMESPACE``) with only Powertools' default
``service`` dimension: the dashboard reads exactly that, and each extra dimension would multiply the
metric series (and their cost). Per-request values that are not metrics (key, format, status) travel
as EMF metadata, searchable in Logs Insights.
"""

from __future__ import annotations

import os
from functools import cache
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from vipsfront.config.cost import CostModel
from vipsfront.config.settings import METRICS_NAMESPACE, SERVICE_NAME
from vipsfront.telemetry import Observer, Outcome, RequestRecord

if TYPE_CHECKING:
    from aws_lambda_powertools import Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or SERVICE_NAME  # the stack's name when deployed
logger = Logger(service=SERVICE)
metrics = Metrics(namespace=METRICS_NAMESPACE, service=SERVICE)


@cache
def tracer() -> Tracer:
    """The Powertools tracer, made on first use (by the handler's first invocation)."""
    from aws_lambda_powertools import Tracer

    return Tracer(service=SERVICE)


# RequestRecord timing (also its Server-Timing name) -> metric; each is emitted only when it was timed
_TIMINGS = {
    "s3-variant": "VariantLookupMs",  # GET of the stored variant (hit or not)
    "transform": "TransformMs",
    "s3-read": "S3ReadMs",  # GET of the original
    "s3-write": "S3WriteMs",
    "total": "TotalMs",
}


def record_metrics(record: RequestRecord, cost_model: CostModel) -> None:
    """Add one request's metrics and metadata to the current EMF document and log it as one line.

    The handler's ``@metrics.log_metrics`` flushes them at the end of the invocation.
    """
    hit, miss = record.outcome is Outcome.HIT, record.outcome is Outcome.MISS
    cost = cost_model.estimate(record)

    if miss:
        metrics.add_metric(name="Transforms", unit=MetricUnit.Count, value=1)
    if hit or miss:
        # both, as 0 or 1: the average of VariantHit is the hit ratio
        metrics.add_metric(name="VariantHit", unit=MetricUnit.Count, value=int(hit))
        metrics.add_metric(name="VariantMiss", unit=MetricUnit.Count, value=int(miss))
        metrics.add_metric(name="OutputBytes", unit=MetricUnit.Bytes, value=record.output_bytes)
    for timing, name in _TIMINGS.items():
        if timing in record.timings:
            metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=record.timings[timing])
    if record.input_bytes:
        metrics.add_metric(name="InputBytes", unit=MetricUnit.Bytes, value=record.input_bytes)
    if record.input_megapixels:
        metrics.add_metric(name="InputMegapixels", unit=MetricUnit.NoUnit, value=record.input_megapixels)
    metrics.add_metric(name="EstimatedCostUSD", unit=MetricUnit.NoUnit, value=cost.total)
    metrics.add_metric(name="Errors", unit=MetricUnit.Count, value=int(record.outcome is Outcome.ERROR))
    # 5xx answers the app handled (502 from S3, 503 past the deadline...): not Lambda errors, so metered here
    metrics.add_metric(name="ServerErrors", unit=MetricUnit.Count, value=int(record.status >= 500))

    metrics.add_metadata(key="key", value=record.key)
    metrics.add_metadata(key="format", value=record.format)
    metrics.add_metadata(key="status", value=record.status)
    metrics.add_metadata(key="outcome", value=str(record.outcome))
    if record.error_code:
        metrics.add_metadata(key="error_code", value=record.error_code)

    level = "warning" if record.status >= 500 else "info"
    getattr(logger, level)("image request", extra={"request": describe(record), "cost_usd": cost.as_dict()})


def describe(record: RequestRecord) -> dict[str, Any]:
    """The record as JSON-ready values for a log line (it holds no secrets: no query, no signature)."""
    return {
        "key": record.key,
        "variant_key": record.variant_key,
        "outcome": str(record.outcome),
        "status": record.status,
        "format": record.format,
        "input_bytes": record.input_bytes,
        "input_megapixels": record.input_megapixels,
        "output_bytes": record.output_bytes,
        "width": record.width,
        "height": record.height,
        "timings_ms": dict(record.timings),
        "error_code": record.error_code,
    }


def metrics_observer(cost_model: CostModel) -> Observer:
    """An ``Observer`` for ``create_app`` that meters every request with ``cost_model``.

    Metering never fails a request: an error here is logged and the response goes out unchanged.
    """

    def observe(record: RequestRecord) -> None:
        try:
            record_metrics(record, cost_model)
        except Exception:
            logger.exception("could not record metrics")

    return observe
