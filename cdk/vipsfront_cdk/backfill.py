"""Backfill on Step Functions: a Distributed Map over the originals bucket's listing (a prefix from the
execution input) that hands batches of keys to the lifecycle function's batch mode, writing its results
under ``_vf-backfill/`` in the variants bucket.

Input ``{"prefix": "photos/"}`` (``vipsfront backfill --state-machine ARN --prefix photos/``); each batch
is the event ``{"Items": [{"Key": ..., "Etag": ..., "Size": ...}, ...], "BatchInput": {"prefix": ...}}``.
"""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_stepfunctions as sfn
from aws_cdk import aws_stepfunctions_tasks as tasks
from constructs import Construct

from vipsfront_cdk.nag import acknowledge
from vipsfront_cdk.transform_function import objects_arn

RESULTS_PREFIX = "_vf-backfill/"
PREFIX_FROM_INPUT = "{% $exists($states.input.prefix) ? $states.input.prefix : '' %}"


class Backfill(Construct):
    """``state_machine``: list, batch, ingest; at most ``max_concurrency`` batches at once."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        originals: s3.IBucket,
        results: s3.IBucket,
        function: lambda_.IFunction,
        max_concurrency: int = 40,
        batch_size: int = 20,
        tolerated_failure_percent: int = 5,
        log_retention: logs.RetentionDays = logs.RetentionDays.ONE_MONTH,
    ) -> None:
        super().__init__(scope, construct_id)
        ingest = tasks.LambdaInvoke.jsonata(
            self,
            "IngestBatch",
            lambda_function=function,
            payload=sfn.TaskInput.from_object(
                {"Items": "{% $states.input.Items %}", "BatchInput": "{% $states.input.BatchInput %}"}
            ),
            outputs="{% $states.result.Payload %}",
            retry_on_service_exceptions=True,
        )
        originals_map = sfn.DistributedMap.jsonata(
            self,
            "Originals",
            item_reader=sfn.S3ObjectsItemReader(bucket=originals, prefix=PREFIX_FROM_INPUT),
            item_batcher=sfn.ItemBatcher(max_items_per_batch=batch_size, batch_input={"prefix": PREFIX_FROM_INPUT}),
            max_concurrency=max_concurrency,
            tolerated_failure_percentage=tolerated_failure_percent,
            result_writer=sfn.ResultWriter(bucket=results, prefix=RESULTS_PREFIX),
        )
        originals_map.item_processor(ingest)
        self.log_group = logs.LogGroup(self, "Logs", retention=log_retention)
        self.state_machine = sfn.StateMachine(
            self,
            "StateMachine",
            comment="vipsfront backfill: ingest every original under a prefix",
            query_language=sfn.QueryLanguage.JSONATA,
            definition_body=sfn.DefinitionBody.from_chainable(originals_map),
            timeout=Duration.days(7),
            tracing_enabled=True,
            logs=sfn.LogOptions(destination=self.log_group, level=sfn.LogLevel.ERROR, include_execution_data=False),
        )
        executions = (
            'arn:<AWS::Partition>:states:<AWS::Region>:<AWS::AccountId>:execution:{"Fn::Select":[6,{"Fn::Split":'
            f'[":",{{"Ref":"{Stack.of(self).get_logical_id(self.state_machine.node.default_child)}"}}]}}]}}'
        )
        results_objects = objects_arn(results).replace(".Arn>", ">")
        if results_objects.startswith("<"):  # the result writer names the bucket by name, not by ARN
            results_objects = f"arn:<AWS::Partition>:s3:::{results_objects}"
        child_runs = "The Distributed Map starts, reads and stops its own map runs' executions, named at run time."
        acknowledge(
            self.state_machine,
            {
                f"AwsSolutions-IAM5[Resource::{executions}:*]": child_runs,
                f"AwsSolutions-IAM5[Resource::{executions}/*:*]": child_runs,
                f"AwsSolutions-IAM5[Resource::<{Stack.of(self).get_logical_id(function.node.default_child)}.Arn>:*]": (
                    "LambdaInvoke's grant: the lifecycle function and its versions, nothing else."
                ),
                f"AwsSolutions-IAM5[Resource::{results_objects}]": "The result writer's grant covers the "
                f"bucket's objects; the map writes its manifest and results under {RESULTS_PREFIX} only.",
                "AwsSolutions-IAM5[Resource::*]": "CloudWatch Logs delivery and X-Ray actions take no resource.",
                "AwsSolutions-SF1": "Errors are logged; ALL would log every event of every child execution, "
                "millions of lines for a large backfill. Execution history keeps the detail.",
            },
        )
