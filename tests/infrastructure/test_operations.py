"""The stack's operations options (issue 11 §3) and the originals' lifecycle and backfill (issue 12).

Each synth runs cdk-nag (see ``conftest.py``): every stack here has no unacknowledged finding.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import ACL_ARN, CERT_ARN

aws_cdk = pytest.importorskip("aws_cdk")
from aws_cdk.assertions import Match, Template  # noqa: E402

from vipsfront.config.settings import METRICS_NAMESPACE  # noqa: E402
from vipsfront_cdk import Settings  # noqa: E402
from vipsfront_cdk.backfill import RESULTS_PREFIX  # noqa: E402
from vipsfront_cdk.lifecycle import DISTRIBUTION_ID_VARIABLE, HANDLER, MAX_RECEIVE_COUNT  # noqa: E402

CACHING_DISABLED = "4135ea2d-6df8-44a3-9df3-4b5a84be39ad"  # CloudFront's managed policy


@pytest.fixture(scope="module")
def default(default_stack: Any) -> Template:
    return Template.from_stack(default_stack)


@pytest.fixture(scope="module")
def operations(operations_stack: Any) -> Template:
    return Template.from_stack(operations_stack)


@pytest.fixture(scope="module")
def minimal(minimal_stack: Any) -> Template:
    return Template.from_stack(minimal_stack)


def dumped(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def distribution_config(template: Template) -> dict[str, Any]:
    (dist,) = template.find_resources("AWS::CloudFront::Distribution").values()
    return dist["Properties"]["DistributionConfig"]


def functions_by_handler(template: Template) -> dict[str, dict[str, Any]]:
    return {
        f["Properties"]["Handler"]: f["Properties"] for f in template.find_resources("AWS::Lambda::Function").values()
    }


def role_statements(template: Template, prefix: str) -> list[dict[str, Any]]:
    return [
        statement
        for name, policy in template.find_resources("AWS::IAM::Policy").items()
        if name.startswith(prefix)
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    ]


def actions(statement: dict[str, Any]) -> list[str]:
    value = statement["Action"]
    return value if isinstance(value, list) else [value]


# ---- abuse and cost guards


def test_transform_concurrency_is_capped_by_default(default: Template, minimal: Template) -> None:
    transform = functions_by_handler(default)["handler.handler"]
    assert transform["ReservedConcurrentExecutions"] == Settings().reserved_concurrency
    assert "ReservedConcurrentExecutions" not in functions_by_handler(minimal)["handler.handler"]  # 'none'


def test_no_web_acl_unless_asked(default: Template) -> None:
    default.resource_count_is("AWS::WAFv2::WebACL", 0)
    assert "WebACLId" not in distribution_config(default)


def test_web_acl_with_a_per_ip_rate_rule_only_in_us_east_1(operations: Template) -> None:
    operations.has_resource_properties(
        "AWS::WAFv2::WebACL",
        {
            "Scope": "CLOUDFRONT",
            "DefaultAction": {"Allow": {}},
            "Rules": Match.array_with(
                [
                    Match.object_like(
                        {
                            "Action": {"Block": {}},
                            "Statement": {
                                "RateBasedStatement": Match.object_like({"AggregateKeyType": "IP", "Limit": 1000})
                            },
                        }
                    )
                ]
            ),
        },
    )
    (acl_id,) = operations.find_resources("AWS::WAFv2::WebACL")
    assert distribution_config(operations)["WebACLId"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    (rule,) = (r for name, r in operations.to_json()["Rules"].items() if name.startswith("Firewall"))
    assert "us-east-1" in dumped(rule["Assertions"])
    assert "vipsfront:webAclArn" in rule["Assertions"][0]["AssertDescription"]


def test_an_existing_web_acl_is_attached_by_arn(minimal: Template) -> None:
    assert distribution_config(minimal)["WebACLId"] == ACL_ARN
    minimal.resource_count_is("AWS::WAFv2::WebACL", 0)
    assert not any(name.startswith("Firewall") for name in minimal.to_json().get("Rules", {}))


def test_custom_domain_certificate_and_tls_policy(operations: Template, default: Template) -> None:
    config = distribution_config(operations)
    assert config["Aliases"] == ["img.example.com"]
    assert config["ViewerCertificate"] == {
        "AcmCertificateArn": CERT_ARN,
        "MinimumProtocolVersion": "TLSv1.2_2021",
        "SslSupportMethod": "sni-only",
    }
    assert "Aliases" not in distribution_config(default)


def test_standard_logs_go_to_a_bucket_that_expires_them(operations: Template, default: Template) -> None:
    logging = distribution_config(operations)["Logging"]
    assert logging["Prefix"] == "cloudfront/"
    (bucket_id,) = (
        name
        for name, bucket in operations.find_resources("AWS::S3::Bucket").items()
        if bucket["Properties"].get("OwnershipControls", {}).get("Rules") == [{"ObjectOwnership": "ObjectWriter"}]
    )
    assert bucket_id in dumped(logging["Bucket"])
    bucket = operations.find_resources("AWS::S3::Bucket")[bucket_id]["Properties"]
    assert bucket["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"] == 60
    assert "Logging" not in distribution_config(default)


def test_account_wide_names_carry_the_region(default: Template) -> None:
    named = {
        "AWS::CloudFront::KeyValueStore": lambda p: p["Name"],
        "AWS::CloudFront::OriginRequestPolicy": lambda p: p["OriginRequestPolicyConfig"]["Name"],
        "AWS::CloudFront::ResponseHeadersPolicy": lambda p: p["ResponseHeadersPolicyConfig"]["Name"],
        "AWS::CloudFront::OriginAccessControl": lambda p: p["OriginAccessControlConfig"]["Name"],
        "AWS::CloudFront::CachePolicy": lambda p: p["CachePolicyConfig"]["Name"],
        "AWS::CloudFront::Function": lambda p: p["Name"],
    }
    for kind, name_of in named.items():
        resources = default.find_resources(kind)
        assert resources, kind
        for resource in resources.values():
            assert '{"Ref": "AWS::Region"}' in dumped(name_of(resource["Properties"])), kind


# ---- behaviours: OPTIONS, never-cached paths


def test_options_is_allowed_with_cors_and_preflights_are_not_cached(default: Template, operations: Template) -> None:
    behaviour = distribution_config(default)["DefaultCacheBehavior"]
    assert behaviour["AllowedMethods"] == ["GET", "HEAD", "OPTIONS"]
    assert behaviour["CachedMethods"] == ["GET", "HEAD"]
    # no CORS origins: nothing answers a preflight, so the method is not allowed at all
    assert distribution_config(operations)["DefaultCacheBehavior"]["AllowedMethods"] == ["GET", "HEAD"]


def test_health_and_openapi_are_never_cached_and_go_to_the_function(default: Template) -> None:
    config = distribution_config(default)
    behaviours = {b["PathPattern"]: b for b in config["CacheBehaviors"]}
    assert set(behaviours) == {"/_vf/health", "/_vf/openapi.json", "/_vf/info/*"}  # info: test_stack_info.py
    (group,) = config["OriginGroups"]["Items"]
    fallback = group["Members"]["Items"][1]["OriginId"]
    for behaviour in (behaviours["/_vf/health"], behaviours["/_vf/openapi.json"]):
        assert behaviour["CachePolicyId"] == CACHING_DISABLED
        assert behaviour["TargetOriginId"] == fallback  # the function URL, not the S3-first group
        assert behaviour["AllowedMethods"] == ["GET", "HEAD"]
    assert len(config["Origins"]) == 2  # the function's origin is shared, not duplicated


# ---- dashboard and alarms


def test_dashboard_shows_cloudfront_metrics_from_us_east_1(default: Template) -> None:
    (dashboard,) = default.find_resources("AWS::CloudWatch::Dashboard").values()
    body = dumped(dashboard["Properties"]["DashboardBody"])
    for name in ("Requests", "CacheHitRate", "4xxErrorRate", "5xxErrorRate", "BytesDownloaded"):
        assert f'[\\"AWS/CloudFront\\",\\"{name}\\",\\"DistributionId\\"' in body, name
    assert '\\"Region\\",\\"Global\\"' in body and '\\"region\\":\\"us-east-1\\"' in body
    default.has_resource_properties(
        "AWS::CloudFront::MonitoringSubscription",
        {
            "DistributionId": Match.any_value(),
            "MonitoringSubscription": {
                "RealtimeMetricsSubscriptionConfig": {"RealtimeMetricsSubscriptionStatus": "Enabled"}
            },
        },
    )


def test_additional_metrics_can_be_turned_off(minimal: Template) -> None:
    minimal.resource_count_is("AWS::CloudFront::MonitoringSubscription", 0)


def test_every_alarm_notifies_the_topic(default: Template, operations: Template) -> None:
    (topic_id,) = default.find_resources("AWS::SNS::Topic")
    alarms = default.find_resources("AWS::CloudWatch::Alarm")
    metrics = {a["Properties"]["MetricName"] for a in alarms.values()}
    assert {"Errors", "Throttles", "ServerErrors", "ApproximateNumberOfMessagesVisible", "ExecutionsFailed"} <= metrics
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    server = next(a["Properties"] for a in alarms.values() if a["Properties"]["MetricName"] == "ServerErrors")
    assert server["Namespace"] == METRICS_NAMESPACE
    default.resource_count_is("AWS::SNS::Subscription", 0)
    operations.has_resource_properties("AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "ops@example.com"})


# ---- lifecycle: events, queue, dead letters, function


def test_originals_send_events_to_a_queue_with_dead_letters(default: Template) -> None:
    default.has_resource_properties(
        "AWS::S3::Bucket",
        {"NotificationConfiguration": {"EventBridgeConfiguration": {"EventBridgeEnabled": True}}},
    )
    (rule,) = default.find_resources("AWS::Events::Rule").values()
    pattern = rule["Properties"]["EventPattern"]
    assert pattern["source"] == ["aws.s3"]
    assert sorted(pattern["detail-type"]) == ["Object Created", "Object Deleted"]
    assert "BucketsOriginals" in dumped(pattern["detail"]["bucket"]["name"])
    queues = default.find_resources("AWS::SQS::Queue")
    (events_id,) = (name for name, q in queues.items() if "RedrivePolicy" in q["Properties"])
    assert "LifecycleEvents" in dumped(rule["Properties"]["Targets"][0]["Arn"])
    events, dead = (
        queues[events_id]["Properties"],
        next(q["Properties"] for name, q in queues.items() if name != events_id),
    )
    assert events["RedrivePolicy"]["maxReceiveCount"] == MAX_RECEIVE_COUNT
    assert events["VisibilityTimeout"] == 6 * 300
    # after any transform that read the old original could have stored its variant (timeout 25 s)
    assert events["DelaySeconds"] == 25 + 5
    assert dead["MessageRetentionPeriod"] == 14 * 24 * 3600
    for queue in (events, dead):
        assert queue["SqsManagedSseEnabled"] is True
    for policy in default.find_resources("AWS::SQS::QueuePolicy").values():
        assert "aws:SecureTransport" in dumped(policy)


def test_lifecycle_function_shares_the_asset_and_reports_item_failures(default: Template) -> None:
    functions = functions_by_handler(default)
    lifecycle, transform = functions[HANDLER], functions["handler.handler"]
    assert lifecycle["Code"] == transform["Code"]
    assert lifecycle["Architectures"] == transform["Architectures"]
    env = lifecycle["Environment"]["Variables"]
    assert "Ref" in dumped(env[DISTRIBUTION_ID_VARIABLE]) and "CdnDistribution" in dumped(env[DISTRIBUTION_ID_VARIABLE])
    assert env["VIPSFRONT_VARIANTS_BUCKET"] == transform["Environment"]["Variables"]["VIPSFRONT_VARIANTS_BUCKET"]
    default.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BatchSize": 10,
            "ScalingConfig": {"MaximumConcurrency": 5},
        },
    )


def test_lifecycle_grants_are_least_privilege(default: Template) -> None:
    statements = role_statements(default, "LifecycleFunction")
    by_action: dict[str, list[str]] = {}
    for statement in statements:
        for action in actions(statement):
            by_action.setdefault(action, []).append(dumped(statement["Resource"]))
    assert not any(a.endswith("*") and a.startswith("s3:") for a in by_action)  # no s3:Get*, s3:*
    assert all("BucketsVariants" in r for r in by_action["s3:DeleteObject"])
    assert all("BucketsVariants" in r for r in by_action["s3:PutObject"])
    assert any("BucketsOriginals" in r for r in by_action["s3:GetObject"])
    (invalidation,) = by_action["cloudfront:CreateInvalidation"]
    assert ":distribution/" in invalidation and "CdnDistribution" in invalidation and '"*"' not in invalidation
    assert set(by_action) <= {
        "s3:GetObject",
        "s3:GetObjectVersion",
        "s3:ListBucket",
        "s3:PutObject",
        "s3:DeleteObject",
        "cloudfront:CreateInvalidation",
        "sqs:ReceiveMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueUrl",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    }


def test_without_lifecycle_nothing_listens(minimal: Template) -> None:
    for kind in ("AWS::Events::Rule", "AWS::SQS::Queue", "AWS::StepFunctions::StateMachine"):
        minimal.resource_count_is(kind, 0)
    assert HANDLER not in functions_by_handler(minimal)


# ---- backfill


def definition(template: Template) -> dict[str, Any]:
    """The state machine's ASL, resource references as ``<ref>``."""
    (machine,) = template.find_resources("AWS::StepFunctions::StateMachine").values()
    parts = machine["Properties"]["DefinitionString"]["Fn::Join"][1]
    return json.loads("".join(p if isinstance(p, str) else "ref" for p in parts))


def test_backfill_is_a_distributed_map_over_the_originals(default: Template) -> None:
    (state,) = definition(default)["States"].values()
    assert state["Type"] == "Map"
    assert state["ItemProcessor"]["ProcessorConfig"]["Mode"] == "DISTRIBUTED"
    reader = state["ItemReader"]
    assert reader["Resource"].endswith(":states:::s3:listObjectsV2")
    assert "$states.input.prefix" in reader["Arguments"]["Prefix"]  # the prefix is the execution's input
    assert state["ItemBatcher"]["MaxItemsPerBatch"] == Settings().backfill_batch_size
    assert "$states.input.prefix" in state["ItemBatcher"]["BatchInput"]["prefix"]
    assert state["MaxConcurrency"] == Settings().backfill_max_concurrency
    assert state["ToleratedFailurePercentage"] == Settings().backfill_tolerated_failure_percent
    assert state["ResultWriter"]["Arguments"]["Prefix"] == RESULTS_PREFIX
    (task,) = state["ItemProcessor"]["States"].values()
    assert task["Resource"].endswith(":states:::lambda:invoke")
    assert task["Arguments"]["Payload"] == {
        "Items": "{% $states.input.Items %}",
        "BatchInput": "{% $states.input.BatchInput %}",
    }
    (machine,) = default.find_resources("AWS::StepFunctions::StateMachine").values()
    assert "LifecycleFunction" in dumped(machine["Properties"]["DefinitionString"])


def test_backfill_options(operations: Template) -> None:
    (state,) = definition(operations)["States"].values()
    assert (state["MaxConcurrency"], state["ItemBatcher"]["MaxItemsPerBatch"], state["ToleratedFailurePercentage"]) == (
        8,
        5,
        10,
    )


def test_backfill_may_invoke_the_lifecycle_function_only(default: Template) -> None:
    statements = role_statements(default, "BackfillStateMachine")
    invoke = [s for s in statements if "lambda:InvokeFunction" in actions(s)]
    assert invoke and all("LifecycleFunction" in dumped(s["Resource"]) for s in invoke)
    assert not any("TransformFunction" in dumped(s["Resource"]) for s in statements)
    assert default.find_outputs("BackfillStateMachineArn")


# ---- settings


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("wafRateLimit", "5", "10..2000000000"),
        ("webAclArn", "arn:aws:wafv2:eu-west-1:1:regional/webacl/x/y", "us-east-1"),
        ("certificateArn", "arn:aws:acm:eu-west-1:1:certificate/x", "us-east-1"),
        ("domainNames", "img.example.com", "go together"),
        ("minimumTls", "TLSv1", "minimumTls must be one of"),
        ("reservedConcurrency", "0", "'none' for no cap"),
        ("backfillToleratedFailurePercent", "101", "0..100"),
        ("backfillBatchSize", "0", "1..560"),
        ("alarmEmail", "ops", "e-mail"),
        ("accessLogs", "maybe", "not a boolean"),
    ],
)
def test_bad_operations_values_name_their_key(key: str, value: str, reason: str) -> None:
    app = aws_cdk.App(context={f"vipsfront:{key}": value})
    with pytest.raises(ValueError) as caught:
        Settings.from_context(app.node)
    assert f"vipsfront:{key}" in str(caught.value) and reason in str(caught.value), str(caught.value)


def test_operations_settings_from_context() -> None:
    app = aws_cdk.App(
        context={
            "vipsfront:reservedConcurrency": "none",
            "vipsfront:wafRateLimit": "2000",
            "vipsfront:domainNames": "img.example.com,cdn.example.com",
            "vipsfront:certificateArn": CERT_ARN,
            "vipsfront:accessLogs": "true",
            "vipsfront:lifecycle": "false",
        }
    )
    settings = Settings.from_context(app.node)
    assert settings.reserved_concurrency is None and settings.waf_rate_limit == 2000
    assert settings.domain_names == ("img.example.com", "cdn.example.com")
    assert settings.access_logs is True and settings.lifecycle is False
