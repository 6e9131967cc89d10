"""The life of an original: its S3 events, through a queue with a dead-letter queue, to the lifecycle
function (``functions/lifecycle/``, same asset as the transform), which purges the variants of a changed
or deleted original, invalidates CloudFront, and ingests (info document, eager presets).

An event EventBridge cannot put on the queue is retried for up to a day, then kept in the same
dead-letter queue (its depth is alarmed on), so no change of an original is lost silently."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from vipsfront_cdk.nag import acknowledge
from vipsfront_cdk.transform_function import objects_arn

HANDLER = "lifecycle/handler.handler"  # functions/lifecycle/handler.py, in the asset's lifecycle/ folder
EVENT_TYPES = ["Object Created", "Object Deleted"]
MAX_RECEIVE_COUNT = 5  # deliveries of one event before it moves to the dead-letter queue
EVENT_RETRY_ATTEMPTS = 185  # EventBridge's most: retried with backoff for up to EVENT_MAX_AGE
EVENT_MAX_AGE = Duration.hours(24)
QUEUE_BATCH_SIZE = 10
# Concurrent queue consumers: invalidations are per distribution (15 wildcards, 3,000 paths in progress).
QUEUE_MAX_CONCURRENCY = 5
DISTRIBUTION_ID_VARIABLE = "VIPSFRONT_DISTRIBUTION_ID"  # written by the settings' to_env


class Lifecycle(Construct):
    """``rule`` → ``queue`` (``dead_letters`` after 5 tries) → ``function`` (also the backfill's batch step)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        originals: s3.IBucket,
        variants: s3.IBucket,
        code: lambda_.Code,
        architecture: lambda_.Architecture,
        memory_mb: int,
        environment: Mapping[str, str],
        distribution_arn: str,
        log_group: logs.ILogGroup,
        timeout_seconds: int = 300,
        delivery_delay_seconds: int = 30,
        originals_key_arn: str | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        timeout = Duration.seconds(timeout_seconds)
        self.dead_letters = sqs.Queue(
            self,
            "DeadLetters",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.queue = sqs.Queue(
            self,
            "Events",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(4),
            # A transform that read the old original just before the change may still store its variant;
            # waiting longer than the transform function's timeout lets the purge come after it.
            delivery_delay=Duration.seconds(delivery_delay_seconds),
            # AWS's rule of thumb for a Lambda consumer: six times its timeout.
            visibility_timeout=Duration.seconds(6 * timeout.to_seconds()),
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letters, max_receive_count=MAX_RECEIVE_COUNT),
        )
        self.rule = events.Rule(
            self,
            "OriginalChanged",
            description="vipsfront: an original was created, replaced or deleted",
            event_pattern=events.EventPattern(
                source=["aws.s3"],
                detail_type=EVENT_TYPES,
                detail={"bucket": {"name": [originals.bucket_name]}},
            ),
            targets=[
                targets.SqsQueue(
                    self.queue,
                    dead_letter_queue=self.dead_letters,
                    retry_attempts=EVENT_RETRY_ATTEMPTS,
                    max_event_age=EVENT_MAX_AGE,
                )
            ],
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description="vipsfront: purge and ingest on an original's change; the backfill's batch step",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=architecture,
            handler=HANDLER,
            code=code,
            memory_size=memory_mb,
            timeout=timeout,
            environment=dict(environment),
            log_group=log_group,
        )
        self.function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=QUEUE_BATCH_SIZE,
                max_batching_window=Duration.seconds(20),  # keys that change together share an invalidation
                report_batch_item_failures=True,
                max_concurrency=QUEUE_MAX_CONCURRENCY,
            )
        )
        self.distribution_arn = distribution_arn
        self.originals_key_arn = originals_key_arn
        self._build_grants(originals, variants)
        self._suppress(originals, variants)

    def _build_grants(self, originals: s3.IBucket, variants: s3.IBucket) -> None:
        """Read originals; list, read, write and delete variants; invalidate this distribution only."""
        statements = [
            iam.PolicyStatement(
                sid="ReadOriginals",
                actions=["s3:GetObject", "s3:GetObjectVersion"],
                resources=[originals.arn_for_objects("*")],
            ),
            # Listing, so that a missing original or variant answers 404 rather than 403.
            iam.PolicyStatement(
                sid="ListBuckets", actions=["s3:ListBucket"], resources=[originals.bucket_arn, variants.bucket_arn]
            ),
            iam.PolicyStatement(
                sid="ReadWriteDeleteVariants",
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                resources=[variants.arn_for_objects("*")],
            ),
            iam.PolicyStatement(
                sid="InvalidateThisDistribution",
                actions=["cloudfront:CreateInvalidation"],
                resources=[self.distribution_arn],
            ),
        ]
        if self.originals_key_arn:
            statements.append(
                iam.PolicyStatement(sid="DecryptOriginals", actions=["kms:Decrypt"], resources=[self.originals_key_arn])
            )
        for statement in statements:
            self.function.add_to_role_policy(statement)

    def _suppress(self, originals: s3.IBucket, variants: s3.IBucket) -> None:
        objects = "Object-level grants: any original may change, and its variants are any keys under it."
        acknowledge(
            self.function,
            {
                f"AwsSolutions-IAM5[Resource::{objects_arn(originals)}]": objects,
                f"AwsSolutions-IAM5[Resource::{objects_arn(variants)}]": objects,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]": "Only lets the function write its own logs.",
                "AwsSolutions-L1": "Pinned to Python 3.12 like the transform function: one asset for both.",
            },
        )
        acknowledge(
            self.dead_letters,
            {"AwsSolutions-SQS3": "This is the dead-letter queue; its depth is alarmed on."},
        )
