"""The CloudWatch dashboard: CloudFront's traffic beside what every transform costs; alarms on the
function's health, the 5xx answers it handles, and the lifecycle's failures, sent to one SNS topic."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from vipsfront.config.settings import METRICS_NAMESPACE, SERVICE_NAME
from vipsfront_cdk.nag import acknowledge

# Powertools' default dimension, the only one the function emits: its value is the stack's service name
# (POWERTOOLS_SERVICE_NAME), so two stacks in one account never add up each other's metrics.
SERVICE_VARIABLE = "POWERTOOLS_SERVICE_NAME"
FIVE_MINUTES = Duration.minutes(5)
HOUR = Duration.hours(1)
# CloudFront publishes its metrics in us-east-1 only, with the dimension Region=Global.
CLOUDFRONT_REGION = "us-east-1"
TOPIC_ENCRYPTION_REASON = (
    "Alarm notifications carry no secrets, and CloudWatch cannot publish to a topic encrypted with the "
    "AWS-managed SNS key (a customer-managed key would cost 1 USD a month for nothing to protect)."
)


def cloudfront_metric(distribution_id: str, name: str, statistic: str = "Sum", label: str | None = None) -> cw.Metric:
    """One of CloudFront's metrics of this distribution (read from us-east-1 by the dashboard)."""
    return cw.Metric(
        namespace="AWS/CloudFront",
        metric_name=name,
        dimensions_map={"DistributionId": distribution_id, "Region": "Global"},
        statistic=statistic,
        period=FIVE_MINUTES,
        region=CLOUDFRONT_REGION,
        label=label or name,
    )


def metric(
    name: str,
    statistic: str = "Sum",
    period: Duration = FIVE_MINUTES,
    label: str | None = None,
    *,
    service: str = SERVICE_NAME,
) -> cw.Metric:
    """One metric the function emits (Powertools EMF, namespace ``Vipsfront``, dimension ``service``)."""
    return cw.Metric(
        namespace=METRICS_NAMESPACE,
        metric_name=name,
        dimensions_map={"service": service},
        statistic=statistic,
        period=period,
        label=label or f"{name} {statistic}",
    )


class Dashboard(Construct):
    """``dashboard``: CloudFront's requests, hit rate, error rates and bytes, then transforms, latency,
    bytes, cost, variant-cache hits; ``alarms``: errors, throttles and handled 5xx answers, each sent to
    ``topic`` (and to ``alarm_email`` when given)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function: lambda_.IFunction,
        distribution_id: str | None = None,
        errors_threshold: int = 5,
        alarm_email: str | None = None,
        dashboard_name: str | None = None,
        service: str = SERVICE_NAME,
    ) -> None:
        super().__init__(scope, construct_id)
        self.service = service
        self.topic = self._build_topic(alarm_email)
        self.alarms: list[cw.Alarm] = []
        self.errors_alarm, self.throttles_alarm = self._build_alarms(function, errors_threshold)
        self.server_errors_alarm = self.add_alarm(
            "ServerErrors",
            # no label: an alarm on a labelled metric renders as metric math, harder to read in the console
            cw.Metric(
                namespace=METRICS_NAMESPACE,
                metric_name="ServerErrors",
                dimensions_map={"service": service},
                statistic="Sum",
                period=FIVE_MINUTES,
            ),
            threshold=errors_threshold,
            description="vipsfront origin answered 5xx (502/503 handled errors included, which are not Lambda errors)",
        )
        self.dashboard = self._build_dashboard(function, distribution_id, dashboard_name)

    def _metric(self, name: str, statistic: str = "Sum", **options: Any) -> cw.Metric:
        """One metric this stack's function emits."""
        return metric(name, statistic, service=self.service, **options)

    def _build_topic(self, alarm_email: str | None) -> sns.Topic:
        topic = sns.Topic(self, "Alarms", display_name="vipsfront alarms", enforce_ssl=True)
        if alarm_email:
            topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        acknowledge(topic, {"AwsSolutions-SNS2": TOPIC_ENCRYPTION_REASON})
        return topic

    def add_alarm(self, construct_id: str, metric: cw.IMetric, *, threshold: float, description: str) -> cw.Alarm:
        """An alarm at ``threshold`` or more per period, notifying the topic; shown on the dashboard."""
        alarm = cw.Alarm(
            self,
            construct_id,
            alarm_description=description,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        self.alarms.append(alarm)
        if hasattr(self, "dashboard"):
            self.dashboard.add_widgets(cw.AlarmWidget(title=construct_id, alarm=alarm, width=8))
        return alarm

    def _build_alarms(self, function: lambda_.IFunction, errors_threshold: int) -> tuple[cw.Alarm, cw.Alarm]:
        errors = self.add_alarm(
            "Errors",
            function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
            threshold=errors_threshold,
            description="vipsfront transform function errors (invocations that failed or timed out)",
        )
        throttles = self.add_alarm(
            "Throttles",
            function.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
            threshold=1,
            description="vipsfront transform function throttled (reserved concurrency or account limit)",
        )
        return errors, throttles

    def _build_dashboard(
        self, function: lambda_.IFunction, distribution_id: str | None, name: str | None
    ) -> cw.Dashboard:
        dashboard = cw.Dashboard(self, "Dashboard", dashboard_name=name, default_interval=Duration.days(1))
        if distribution_id is not None:
            dashboard.add_widgets(*self._build_cdn_widgets(distribution_id))
        dashboard.add_widgets(*self._build_volume_widgets())
        dashboard.add_widgets(*self._build_latency_widgets())
        dashboard.add_widgets(*self._build_bytes_widgets())
        dashboard.add_widgets(*self._build_cost_widgets())
        dashboard.add_widgets(*self._build_health_widgets(function))
        return dashboard

    def _build_cdn_widgets(self, distribution_id: str) -> list[cw.IWidget]:
        """What viewers see: hits never reach the function, so only CloudFront's metrics count them."""
        return [
            cw.GraphWidget(
                title="CloudFront requests",
                left=[cloudfront_metric(distribution_id, "Requests", label="requests")],
                width=6,
            ),
            cw.GraphWidget(
                title="CloudFront cache hit rate (%)",
                left=[cloudfront_metric(distribution_id, "CacheHitRate", "Average", label="cache hit %")],
                left_y_axis=cw.YAxisProps(min=0, max=100),
                width=6,
            ),
            cw.GraphWidget(
                title="CloudFront error rates (%)",
                left=[
                    cloudfront_metric(distribution_id, "4xxErrorRate", "Average", label="4xx %"),
                    cloudfront_metric(distribution_id, "5xxErrorRate", "Average", label="5xx %"),
                ],
                width=6,
            ),
            cw.GraphWidget(
                title="CloudFront bytes downloaded",
                left=[cloudfront_metric(distribution_id, "BytesDownloaded", label="bytes")],
                width=6,
            ),
        ]

    def _build_volume_widgets(self) -> list[cw.IWidget]:
        hits, misses = self._metric("VariantHit", label="hits"), self._metric("VariantMiss", label="misses")
        ratio = cw.MathExpression(
            expression="100 * hits / (hits + misses)",
            using_metrics={"hits": hits, "misses": misses},
            label="variant-cache hit %",
            period=FIVE_MINUTES,
        )
        return [
            cw.GraphWidget(title="Transforms", left=[self._metric("Transforms", label="transforms")], width=8),
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
                left=[self._metric("TransformMs", "p50"), self._metric("TransformMs", "p99")],
                width=12,
            ),
            cw.GraphWidget(
                title="S3 read / write time (ms)",
                left=[self._metric("S3ReadMs", "p50"), self._metric("S3ReadMs", "p99")],
                right=[self._metric("S3WriteMs", "p50"), self._metric("S3WriteMs", "p99")],
                width=12,
            ),
        ]

    def _build_bytes_widgets(self) -> list[cw.IWidget]:
        return [
            cw.GraphWidget(
                title="Bytes in and out",
                left=[
                    self._metric("OutputBytes", label="output bytes"),
                    self._metric("InputBytes", label="input bytes"),
                ],
                width=12,
            ),
            cw.GraphWidget(
                title="Input megapixels",
                left=[self._metric("InputMegapixels", "Average"), self._metric("InputMegapixels", "Maximum")],
                width=12,
            ),
        ]

    def _build_cost_widgets(self) -> list[cw.IWidget]:
        cost = self._metric("EstimatedCostUSD", period=HOUR, label="estimated USD per hour")
        per_million = cw.MathExpression(
            expression="1000000 * cost / IF(transforms > 0, transforms, 1)",
            using_metrics={
                "cost": self._metric("EstimatedCostUSD", period=HOUR),
                "transforms": self._metric("Transforms", period=HOUR),
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
            *(cw.AlarmWidget(title=alarm.node.id, alarm=alarm, width=8) for alarm in self.alarms),
            cw.GraphWidget(
                title="Lambda duration and concurrency",
                left=[function.metric_duration(statistic="p99", period=FIVE_MINUTES)],
                right=[function.metric("ConcurrentExecutions", statistic="Maximum", period=FIVE_MINUTES)],
                width=8,
            ),
        ]
