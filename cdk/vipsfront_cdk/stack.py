"""The vipsfront stack: buckets, transform function, edge function, distribution, dashboard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from vipsfront_cdk.buckets import Buckets
from vipsfront_cdk.config import Settings
from vipsfront_cdk.dashboard import Dashboard
from vipsfront_cdk.distribution import Distribution
from vipsfront_cdk.edge_function import EdgeFunction
from vipsfront_cdk.transform_function import ROOT, TransformFunction

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
            self, "Buckets", originals_bucket_name=s.originals_bucket, variants_expire_days=s.variants_expire_days
        )
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
        )
        self.edge = EdgeFunction(
            self,
            "Edge",
            code_path=root / "functions" / "edge" / "viewer_request.js",
            policy=self.origin_settings.policy,
            signing_key=s.signing_key,
            signing_key_id=s.signing_key_id,
        )
        self.cdn = Distribution(
            self,
            "Cdn",
            variants=self.buckets.variants,
            function_url=self.transform.url,
            viewer_request=self.edge.function,
            read_timeout_seconds=min(s.timeout_seconds + 5, 60),
            price_class=s.price_class,
            origin_shield_region=s.origin_shield_region,
            cors_origins=s.cors_origins,
            error_ttl_seconds=s.error_ttl_seconds,
        )
        self.dashboard = Dashboard(
            self, "Dashboard", function=self.transform.function, errors_threshold=s.errors_alarm_threshold
        )
        self._build_outputs()

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
