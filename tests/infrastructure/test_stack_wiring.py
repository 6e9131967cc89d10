"""What the stack wires between its parts, on the synthesized template (``bundle=False``, no AWS account):
settings that must reach the functions, the lifecycle's timeout and retries, old versions of originals,
where standard logs can go, per-stack metrics, and an SSE-KMS originals bucket."""

from __future__ import annotations

import json
from typing import Any

import pytest

aws_cdk = pytest.importorskip("aws_cdk")

from aws_cdk.assertions import Match, Template  # noqa: E402

from vipsfront.config.settings import Settings as OriginSettings  # noqa: E402
from vipsfront_cdk import Settings, VipsfrontStack  # noqa: E402

KEY_ARN = "arn:aws:kms:eu-west-1:123456789012:key/0123abcd-0123-4567-89ab-0123456789ab"


def synth(stack_ids: tuple[str, ...] = ("Vipsfront",), region: str | None = None, **options: Any) -> list[Template]:
    app = aws_cdk.App()
    env = aws_cdk.Environment(account="123456789012", region=region) if region else None
    stacks = [VipsfrontStack(app, name, settings=Settings(bundle=False, **options), env=env) for name in stack_ids]
    app.synth()
    return [Template.from_stack(stack) for stack in stacks]


def functions(template: Template) -> dict[str, dict[str, Any]]:
    """The Lambda functions by handler: ``handler.handler`` (transform), ``lifecycle/handler.handler``."""
    found = template.find_resources("AWS::Lambda::Function")
    return {r["Properties"]["Handler"]: r["Properties"] for r in found.values() if "Handler" in r["Properties"]}


def env_of(props: dict[str, Any]) -> dict[str, str]:
    return {k: v for k, v in props["Environment"]["Variables"].items() if isinstance(v, str)}


def test_cors_origins_and_eager_presets_reach_the_functions() -> None:
    (template,) = synth(cors_origins=("https://app.example.com",), eager_presets=("thumb", "card"))
    transform, lifecycle = functions(template)["handler.handler"], functions(template)["lifecycle/handler.handler"]
    settings = OriginSettings.from_env(env_of(transform))
    assert settings.cors_origins == ("https://app.example.com",)  # the preflight S3 cannot answer
    assert OriginSettings.from_env(env_of(lifecycle)).eager_presets == ("thumb", "card")


def test_eager_presets_are_a_context_value_checked_at_synth() -> None:
    app = aws_cdk.App(context={"vipsfront:eagerPresets": "thumb,hero", "vipsfront:bundle": "false"})
    stack = VipsfrontStack(app, "Vipsfront")
    assert stack.settings.eager_presets == ("thumb", "hero")
    with pytest.raises(ValueError, match="vipsfront:eagerPresets: no preset named 'poster'"):
        VipsfrontStack(aws_cdk.App(context={"vipsfront:eagerPresets": "poster", "vipsfront:bundle": "false"}), "V")


@pytest.mark.parametrize(("batch", "timeout"), [(20, 300), (400, 660), (560, 900)])
def test_the_lifecycle_timeout_follows_the_backfill_batch(batch: int, timeout: int) -> None:
    (template,) = synth(backfill_batch_size=batch)
    assert functions(template)["lifecycle/handler.handler"]["Timeout"] == timeout
    template.has_resource_properties("AWS::SQS::Queue", {"VisibilityTimeout": 6 * timeout})


def test_a_batch_that_cannot_fit_lambdas_timeout_fails_synth() -> None:
    with pytest.raises(ValueError, match="vipsfront:backfillBatchSize must be 1..560"):
        Settings(bundle=False, backfill_batch_size=561)


def test_eventbridge_retries_then_keeps_an_undeliverable_event() -> None:
    (template,) = synth()
    (rule,) = template.find_resources("AWS::Events::Rule").values()
    (target,) = rule["Properties"]["Targets"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 86400}
    assert "DeadLetterConfig" in target and "Arn" in json.dumps(target["DeadLetterConfig"])
    template.has_resource_properties(
        "AWS::SQS::QueuePolicy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [Match.object_like({"Action": "sqs:SendMessage", "Principal": {"Service": "events.amazonaws.com"}})]
                )
            }
        },
    )


@pytest.mark.parametrize(("days", "rule"), [(30, True), (7, True), (0, False)])
def test_old_versions_of_originals_expire(days: int, rule: bool) -> None:
    (template,) = synth(originals_noncurrent_days=days)
    buckets = template.find_resources(
        "AWS::S3::Bucket", {"Properties": {"VersioningConfiguration": {"Status": "Enabled"}}}
    )
    (originals,) = buckets.values()
    rules = originals["Properties"].get("LifecycleConfiguration", {}).get("Rules", [])
    expiring = [r for r in rules if "NoncurrentVersionExpiration" in r]
    assert [r["NoncurrentVersionExpiration"]["NoncurrentDays"] for r in expiring] == ([days] if rule else [])


def test_standard_logs_refuse_a_region_cloudfront_cannot_deliver_to() -> None:
    with pytest.raises(ValueError, match="does not deliver standard logs to an S3 bucket in af-south-1"):
        synth(region="af-south-1", access_logs=True)
    synth(region="eu-west-1", access_logs=True)  # a Region it delivers to


def test_a_stack_without_a_region_checks_it_at_deploy() -> None:
    (template,) = synth(access_logs=True)
    rules = template.to_json()["Rules"]
    [rule] = [rule for rule in rules.values() if "af-south-1" in json.dumps(rule)]
    assert "AWS::Region" in json.dumps(rule) and "Fn::Contains" in json.dumps(rule)


def test_two_stacks_in_one_account_keep_their_metrics_and_alarms_apart() -> None:
    first, second = synth(("Photos", "Avatars"))
    services = []
    for template in (first, second):
        env = env_of(functions(template)["handler.handler"])
        alarms = template.find_resources("AWS::CloudWatch::Alarm", {"Properties": {"MetricName": "ServerErrors"}})
        (alarm,) = alarms.values()
        assert alarm["Properties"]["Dimensions"] == [{"Name": "service", "Value": env["POWERTOOLS_SERVICE_NAME"]}]
        assert all(
            "AlarmName" not in a["Properties"] for a in template.find_resources("AWS::CloudWatch::Alarm").values()
        )
        services.append(env["POWERTOOLS_SERVICE_NAME"])
    assert services == ["vipsfront-Photos", "vipsfront-Avatars"]


@pytest.mark.parametrize("existing", [None, "team-photos"])
def test_an_sse_kms_originals_bucket_is_read_with_its_key(existing: str | None) -> None:
    (template,) = synth(originals_kms_key_arn=KEY_ARN, originals_bucket=existing)
    if existing is None:
        template.has_resource_properties(
            "AWS::S3::Bucket",
            {
                "VersioningConfiguration": {"Status": "Enabled"},
                "BucketEncryption": {
                    "ServerSideEncryptionConfiguration": [
                        Match.object_like(
                            {
                                "BucketKeyEnabled": True,
                                "ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": KEY_ARN},
                            }
                        )
                    ]
                },
            },
        )
    policies = json.dumps(template.find_resources("AWS::IAM::Policy"))
    decrypts = [p for p in template.find_resources("AWS::IAM::Policy").values() if "kms:Decrypt" in json.dumps(p)]
    assert len(decrypts) == 2 and KEY_ARN in policies  # the transform function and the lifecycle function
