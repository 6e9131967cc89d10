"""The CloudWatch dashboard of what every transform costs, and alarms on the function's health."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from vipsfront.config import METRICS_NAMESPACE, SERVICE_NAME

DIMENSIONS = {"service": SERVICE_NAME}  # Powertools' default dimension, the only one the function emits
FIVE_MINUTES = Duration.minutes(5)
HOUR = Duration.hours(1)


def metric(name: str, statistic: str = "Sum", period: Duration = FIVE_MINUTES, label: str | None = None) -> cw.Metric:
    """One metric the function emits (Powertools EMF, namespace ``Vipsfront``, dimension ``service``)."""
    return cw.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map=DIMENSIONS,
        statistic=statistic,
        period=period,
        label=label or f"{name} {statistic}",
    )


class Dashboard(Construct):
    """``dashboard``: transforms, latency, bytes, cost, hit ratio; ``alarms``: errors and throttles."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        errors_threshold: int = 5,
        dashboard_name: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.errors_alarm, self.throttles_alarm = self._build_alarms(function, errors_threshold)
        self.dashboard = self._build_dashboard(function, dashboard_name)

    def _build_alarms(self, function: lambda_.IFunction, errors_threshold: int) -> tuple[cw.Alarm, cw.Alarm]:
        errors = cw.Alarm(
            self,
            "Errors",
            alarm_description="vipsfront transform function errors (5xx from the origin)",
            metric=function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
            threshold=errors_threshold,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        throttles = cw.Alarm(
            self,
            "Throttles",
            alarm_description="vipsfront transform function throttled (reserved concurrency or account limit)",
            metric=function.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
            threshold=1,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        return errors, throttles

    def _build_dashboard(self, function: lambda_.IFunction, name: str | None) -> cw.Dashboard:
        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=name, default_interval=Duration.days(1))
        dashboard.add_widgets(*self._build_volume_widgets())
        dashboard.add_widgets(*self._build_latency_widgets())
        dashboard.add_widgets(*self._build_bytes_widgets())
        dashboard.add_widgets(*self._build_cost_widgets())
        dashboard.add_widgets(*self._build_health_widgets(function))
        return dashboard

    def _build_volume_widgets(self) -> list[cw.IWidget]:
        hits, misses = metric("VariantHit", label="hits"), metric("VariantMiss", label="misses")
        ratio = cw.MathExpression(
            expression="100 * hits / (hits + misses)",
            using_metrics={"hits": hits, "misses": misses},
            label="variant-cache hit %",
            period=FIVE_MINUTES,
        )
        return [
            cw.GraphWidget(title="Transforms", left=[metric("Transforms", label="transforms")], width=8),
            cw.GraphWidget(title="Variant cache: hits and misses", left=[hits, misses], width=8),
            cw.GraphWidget(
                title="Variant cache hit ratio (%)",
                left=[ratio],
                left_y_axis=cw.YAxisProps(min=0, max=100),
                width=8,
            ),
        ]

    def _build_latency_widgets(self) -> list[cw.IWidget]:
        return [
            cw.GraphWidget(
                title="Transform time (ms)",
                left=[metric("TransformMs", "p50"), metric("TransformMs", "p99")],
                width=12,
            ),
            cw.GraphWidget(
                title="S3 read / write time (ms)",
                left=[metric("S3ReadMs", "p50"), metric("S3ReadMs", "p99")],
                right=[metric("S3WriteMs", "p50"), metric("S3WriteMs", "p99")],
                width=12,
            ),
        ]

    def _build_bytes_widgets(self) -> list[cw.IWidget]:
        return [
            cw.GraphWidget(
                title="Bytes in and out",
                left=[metric("OutputBytes", label="output bytes"), metric("InputBytes", label="input bytes")],
                width=12,
            ),
            cw.GraphWidget(
                title="Input megapixels",
                left=[metric("InputMegapixels", "Average"), metric("InputMegapixels", "Maximum")],
                width=12,
            ),
        ]

    def _build_cost_widgets(self) -> list[cw.IWidget]:
        cost = metric("EstimatedCostUSD", period=HOUR, label="estimated USD per hour")
        per_million = cw.MathExpression(
            expression="1000000 * cost / IF(transforms > 0, transforms, 1)",
            using_metrics={
                "cost": metric("EstimatedCostUSD", period=HOUR),
                "transforms": metric("Transforms", period=HOUR),
            },
            label="estimated USD per million transforms",
            period=HOUR,
        )
        return [
            cw.GraphWidget(title="Estimated cost per hour (USD)", left=[cost], width=12),
            cw.GraphWidget(title="Estimated cost per million transforms (USD)", left=[per_million], width=12),
        ]

    def _build_health_widgets(self, function: lambda_.IFunction) -> list[cw.IWidget]:
        return [
            cw.AlarmWidget(title="Errors", alarm=self.errors_alarm, width=8),
            cw.AlarmWidget(title="Throttles", alarm=self.throttles_alarm, width=8),
            cw.GraphWidget(
                title="Lambda duration and concurrency",
                left=[function.metric_duration(statistic="p99", period=FIVE_MINUTES)],
                right=[function.metric("ConcurrentExecutions", statistic="Maximum", period=FIVE_MINUTES)],
                width=8,
            ),
        ]
