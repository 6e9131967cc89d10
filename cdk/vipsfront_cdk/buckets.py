"""The originals bucket (new or existing) and the variants bucket, a cache with a lifecycle expiry."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_kms as kms
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
    """``originals``: the source images (created, or imported by name); ``variants``: transformed images.

    A created originals bucket is versioned; old versions expire ``noncurrent_days`` after they are
    replaced or deleted (0: kept). With ``kms_key_arn`` the originals are SSE-KMS with that key (a
    created bucket encrypts new objects with it; an imported one is read with it), and every reader
    granted through ``originals`` may decrypt with it.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        originals_bucket_name: str | None = None,
        variants_expire_days: int = 30,
        event_bridge: bool = False,
        noncurrent_days: int = 30,
        kms_key_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.originals_key = kms.Key.from_key_arn(self, "OriginalsKey", kms_key_arn) if kms_key_arn else None
        self.originals = self._build_originals(originals_bucket_name, event_bridge, noncurrent_days)
        self.variants = self._build_variants(variants_expire_days)
        self.imported_originals = originals_bucket_name is not None

    def _build_originals(self, name: str | None, event_bridge: bool, noncurrent_days: int) -> s3.IBucket:
        if name:
            # An existing bucket: turn on its EventBridge notifications and its old versions' expiry
            # yourself (see docs/deploy.md).
            return s3.Bucket.from_bucket_attributes(
                self, "Originals", bucket_name=name, encryption_key=self.originals_key
            )
        rules = []
        if noncurrent_days > 0:
            rules.append(
                s3.LifecycleRule(
                    id="ExpireOldVersions",
                    noncurrent_version_expiration=Duration.days(noncurrent_days),
                    expired_object_delete_marker=True,
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            )
        encryption = (
            {"encryption": s3.BucketEncryption.KMS, "encryption_key": self.originals_key, "bucket_key_enabled": True}
            if self.originals_key
            else {}
        )
        bucket = s3.Bucket(
            self,
            "Originals",
            **{**_secure_bucket_props(), **encryption},
            versioned=True,
            lifecycle_rules=rules,
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
