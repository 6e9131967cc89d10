"""The originals bucket (new or existing) and the variants bucket, a cache with a lifecycle expiry."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_s3 as s3
from constructs import Construct

from vipsfront_cdk.nag import acknowledge

ACCESS_LOGS_REASON = (
    "Reads reach these buckets only through CloudFront (whose logs can be enabled on the distribution) "
    "and the transform function (logged in CloudWatch); server access logs would add a third bucket "
    "and cost for no new information. Turn them on in the account's own baseline if required."
)


def _secure_bucket_props() -> dict:
    return {
        "block_public_access": s3.BlockPublicAccess.BLOCK_ALL,
        "encryption": s3.BucketEncryption.S3_MANAGED,
        "enforce_ssl": True,
        "object_ownership": s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
    }


class Buckets(Construct):
    """``originals``: the source images (created, or imported by name); ``variants``: transformed images."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        originals_bucket_name: str | None = None,
        variants_expire_days: int = 30,
        event_bridge: bool = False,
    ) -> None:
        super().__init__(scope, construct_id)
        self.originals = self._build_originals(originals_bucket_name, event_bridge)
        self.variants = self._build_variants(variants_expire_days)
        self.imported_originals = originals_bucket_name is not None

    def _build_originals(self, name: str | None, event_bridge: bool) -> s3.IBucket:
        if name:
            # An existing bucket: turn on its EventBridge notifications yourself (see docs/deploy.md).
            return s3.Bucket.from_bucket_name(self, "Originals", name)
        bucket = s3.Bucket(
            self,
            "Originals",
            **_secure_bucket_props(),
            versioned=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        if event_bridge:
            # "Object Created" / "Object Deleted" to EventBridge for the lifecycle (natively, without the
            # custom resource that event_bridge_enabled adds).
            cfn = bucket.node.default_child
            assert isinstance(cfn, s3.CfnBucket)
            cfn.add_property_override("NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True)
        acknowledge(bucket, {"AwsSolutions-S1": ACCESS_LOGS_REASON})
        return bucket

    def _build_variants(self, expire_days: int) -> s3.Bucket:
        rules = []
        if expire_days > 0:
            rules.append(
                s3.LifecycleRule(
                    id="ExpireVariants",
                    expiration=Duration.days(expire_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            )
        bucket = s3.Bucket(
            self,
            "Variants",
            **_secure_bucket_props(),
            lifecycle_rules=rules,
            # Variants are a cache that the function can rebuild from the originals at any time.
            removal_policy=RemovalPolicy.DESTROY,
            auto_delete_objects=True,
        )
        acknowledge(bucket, {"AwsSolutions-S1": ACCESS_LOGS_REASON})
        return bucket
