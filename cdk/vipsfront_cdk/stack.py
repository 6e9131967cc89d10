"""The vipsfront stack: buckets, transform function, edge function, distribution (behind an optional
web ACL), the originals' lifecycle and its backfill, dashboard and alarms."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from aws_cdk import Aspects, CfnOutput, Stack, Token
from constructs import Construct

from vipsfront_cdk.backfill import Backfill
from vipsfront_cdk.buckets import Buckets
from vipsfront_cdk.config import Settings
from vipsfront_cdk.dashboard import FIVE_MINUTES, Dashboard
from vipsfront_cdk.distribution import Distribution
from vipsfront_cdk.edge_function import EdgeFunction
from vipsfront_cdk.firewall import Firewall
from vipsfront_cdk.lifecycle import Lifecycle
from vipsfront_cdk.names import RegionalNames
from vipsfront_cdk.transform_function import ARCHITECTURES, RETENTION, ROOT, TransformFunction, log_group

EXAMPLE_KEY = "samples/landscape.jpg"


class VipsfrontStack(Stack):
    """Everything a team deploys; ``settings`` defaults to the ``vipsfront:*`` context values."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: Settings | None = None,
        root: Path = ROOT,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.settings = s = settings or Settings.from_context(self.node)
        self.buckets = Buckets(
            self,
            "Buckets",
            originals_bucket_name=s.originals_bucket,
            variants_expire_days=s.variants_expire_days,
            event_bridge=s.lifecycle,
            noncurrent_days=s.originals_noncurrent_days,
            kms_key_arn=s.originals_kms_key_arn,
        )
        # The function's metrics carry this service name: each stack's dashboard and alarms read its own.
        self.service = f"vipsfront-{self.stack_name}" if not Token.is_unresolved(self.stack_name) else "vipsfront"
        # One object for the function's environment and the edge's config: they cannot drift apart.
        self.origin_settings = s.origin_settings(self.buckets.originals.bucket_name, self.buckets.variants.bucket_name)
        self.transform = TransformFunction(
            self,
            "Transform",
            originals=self.buckets.originals,
            variants=self.buckets.variants,
            settings=self.origin_settings,
            timeout_seconds=s.timeout_seconds,
            reserved_concurrency=s.reserved_concurrency,
            log_retention_days=s.log_retention_days,
            bundle=s.bundle,
            asset_dir=s.asset_dir,
            root=root,
            service=self.service,
        )
        self.edge = EdgeFunction(
            self,
            "Edge",
            code_path=root / "functions" / "edge" / "viewer_request.js",
            policy=self.origin_settings.policy,
            signing_key=s.signing_key,
            signing_key_id=s.signing_key_id,
            dialects=self.origin_settings.dialects,
        )
        self.firewall = Firewall(self, "Firewall", rate_limit=s.waf_rate_limit) if s.waf_rate_limit else None
        self.cdn = Distribution(
            self,
            "Cdn",
            variants=self.buckets.variants,
            function_url=self.transform.url,
            viewer_request=self.edge.function,
            info_request=self.edge.info_function,
            behaviours=self.edge.behaviours,
            read_timeout_seconds=min(s.timeout_seconds + 5, 60),
            price_class=s.price_class,
            origin_shield_region=s.origin_shield_region,
            cors_origins=s.cors_origins,
            error_ttl_seconds=s.error_ttl_seconds,
            web_acl_arn=self.firewall.arn if self.firewall else s.web_acl_arn,
            domain_names=s.domain_names,
            certificate_arn=s.certificate_arn,
            minimum_tls=s.minimum_tls,
            access_logs_expire_days=s.access_logs_expire_days if s.access_logs else None,
            additional_metrics=s.cdn_additional_metrics,
        )
        self.dashboard = Dashboard(
            self,
            "Dashboard",
            function=self.transform.function,
            distribution_id=self.cdn.distribution.distribution_id,
            errors_threshold=s.errors_alarm_threshold,
            alarm_email=s.alarm_email,
            service=self.service,
        )
        self.lifecycle = self._build_lifecycle() if s.lifecycle else None
        self.backfill = self._build_backfill() if self.lifecycle else None
        Aspects.of(self).add(RegionalNames())
        self._build_outputs()

    def _build_lifecycle(self) -> Lifecycle:
        s = self.settings
        lifecycle = Lifecycle(
            self,
            "Lifecycle",
            originals=self.buckets.originals,
            variants=self.buckets.variants,
            code=self.transform.code,
            architecture=ARCHITECTURES[self.transform.arch],
            memory_mb=self.transform.memory_mb,
            # the function's settings with the distribution to invalidate: one settings object for both
            environment={
                **self.transform.environment,
                **replace(self.origin_settings, distribution_id=self.cdn.distribution.distribution_id).to_env(),
            },
            distribution_arn=self.format_arn(
                service="cloudfront",
                region="",
                resource="distribution",
                resource_name=self.cdn.distribution.distribution_id,
            ),
            log_group=log_group(self, "LifecycleLogs", s.log_retention_days),
            timeout_seconds=s.lifecycle_timeout_seconds,
            delivery_delay_seconds=s.timeout_seconds + 5,
            originals_key_arn=s.originals_kms_key_arn,
        )
        self.dashboard.add_alarm(
            "LifecycleDeadLetters",
            lifecycle.dead_letters.metric_approximate_number_of_messages_visible(
                period=FIVE_MINUTES, statistic="Maximum"
            ),
            threshold=1,
            description="vipsfront lifecycle: events that failed 5 times wait in the dead-letter queue",
        )
        self.dashboard.add_alarm(
            "LifecycleErrors",
            lifecycle.function.metric_errors(period=FIVE_MINUTES, statistic="Sum"),
            threshold=s.errors_alarm_threshold,
            description="vipsfront lifecycle function errors",
        )
        return lifecycle

    def _build_backfill(self) -> Backfill:
        s = self.settings
        assert self.lifecycle is not None
        backfill = Backfill(
            self,
            "Backfill",
            originals=self.buckets.originals,
            results=self.buckets.variants,
            function=self.lifecycle.function,
            max_concurrency=s.backfill_max_concurrency,
            batch_size=s.backfill_batch_size,
            tolerated_failure_percent=s.backfill_tolerated_failure_percent,
            log_retention=RETENTION[s.log_retention_days],
        )
        self.dashboard.add_alarm(
            "BackfillFailed",
            backfill.state_machine.metric_failed(period=FIVE_MINUTES, statistic="Sum"),
            threshold=1,
            description="vipsfront backfill execution failed (more failures than tolerated, or an error)",
        )
        return backfill

    def _build_outputs(self) -> None:
        domain = self.cdn.distribution.distribution_domain_name
        kvs_arn = self.edge.key_value_store.key_value_store_arn
        CfnOutput(self, "DistributionDomain", value=domain)
        CfnOutput(self, "DistributionId", value=self.cdn.distribution.distribution_id)
        CfnOutput(self, "OriginalsBucketName", value=self.buckets.originals.bucket_name)
        CfnOutput(self, "VariantsBucketName", value=self.buckets.variants.bucket_name)
        CfnOutput(
            self,
            "ExampleUrl",
            value=f"https://{domain}/{EXAMPLE_KEY}?w=640&fm=auto",
            description=f"after uploading an image to s3://<originals>/{EXAMPLE_KEY}",
        )
        CfnOutput(self, "SigningKeyId", value=self.edge.key_id)
        CfnOutput(self, "SigningKeyStoreArn", value=kvs_arn)
        CfnOutput(
            self,
            "SigningKeyCommand",
            value=f"aws cloudfront-keyvaluestore get-key --kvs-arn {kvs_arn} --key key:{self.edge.key_id} "
            "--query Value --output text",
            description="prints the signing secret (VIPSFRONT_SIGNING_KEYS=<kid>:<secret> to sign URLs)",
        )
        CfnOutput(self, "DashboardName", value=self.dashboard.dashboard.dashboard_name)
        CfnOutput(self, "AlarmTopicArn", value=self.dashboard.topic.topic_arn)
        if self.lifecycle:
            CfnOutput(self, "LifecycleDeadLetterQueueUrl", value=self.lifecycle.dead_letters.queue_url)
        if self.backfill:
            arn = self.backfill.state_machine.state_machine_arn
            CfnOutput(self, "BackfillStateMachineArn", value=arn)
            CfnOutput(
                self,
                "BackfillCommand",
                value=f"vipsfront backfill --state-machine {arn} --prefix photos/",
                description="ingests every original under the prefix (info documents, eager presets)",
            )
