"""The synthesized stack, property by property (no whole-template snapshot).

These synths skip dependency bundling (``bundle=False``: the asset holds the sources only), so the whole
module runs in seconds; ``test_cdk_bundling.py`` builds the real asset.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "cdk"))

aws_cdk = pytest.importorskip("aws_cdk")
cdk_nag = pytest.importorskip("cdk_nag")

from aws_cdk.assertions import Annotations, Match, Template  # noqa: E402

from vipsfront.config.settings import METRICS_NAMESPACE  # noqa: E402
from vipsfront.config.settings import Settings as OriginSettings  # noqa: E402
from vipsfront.url.breakpoints import BREAKPOINT_WIDTHS  # noqa: E402
from vipsfront.url.policy import Policy  # noqa: E402
from vipsfront_cdk import Settings, VipsfrontStack  # noqa: E402
from vipsfront_cdk.config import DEFAULT_RESERVED_CONCURRENCY, context_key  # noqa: E402
from vipsfront_cdk.edge_function import MAX_CODE_BYTES, PLACEHOLDER  # noqa: E402

EDGE_JS = ROOT / "functions" / "edge" / "viewer_request.js"
SECRET = "provided-secret-0123456789abcdef"


def synth(settings: Settings, *, nag: bool = False) -> VipsfrontStack:
    app = aws_cdk.App()
    stack = VipsfrontStack(app, "Vipsfront", settings=settings)
    if nag:
        aws_cdk.Validations.of(app).add_plugins(cdk_nag.AwsSolutionsChecks(app))
    app.synth()  # raises if cdk-nag reports an unacknowledged finding
    return stack


@pytest.fixture(scope="module")
def stack() -> VipsfrontStack:
    return synth(Settings(bundle=False))


@pytest.fixture(scope="module")
def template(stack: VipsfrontStack) -> Template:
    return Template.from_stack(stack)


@pytest.fixture(scope="module")
def custom() -> Template:
    """Every option away from its default."""
    settings = Settings(
        bundle=False,
        originals_bucket="team-photos",
        arch="x86_64",
        memory_mb=3008,
        timeout_seconds=40,
        reserved_concurrency=20,
        log_retention_days=90,
        variants_expire_days=7,
        signing_key=f"team:{SECRET}",
        price_class="All",
        origin_shield_region="eu-west-1",
        cors_origins=(),
        error_ttl_seconds=3,
        unsigned_widths=(320, 640),
        presets={"avatar": {"w": "96", "h": "96"}},
    )
    return Template.from_stack(synth(settings))


def resources(template: Template, kind: str) -> dict[str, Any]:
    return template.find_resources(kind)


def dumped(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


def edge_code(template: Template) -> str:
    """The viewer-request function's code (the /_vf/info/* behaviour's is test_stack_info.py's)."""
    (function,) = [f for name, f in resources(template, "AWS::CloudFront::Function").items() if "Info" not in name]
    code = function["Properties"]["FunctionCode"]
    if isinstance(code, str):
        return code
    return "".join(part if isinstance(part, str) else "<token>" for part in code["Fn::Join"][1])


# ---- buckets


def test_buckets_block_public_access_encrypt_and_enforce_tls(template: Template) -> None:
    buckets = resources(template, "AWS::S3::Bucket")
    assert len(buckets) >= 2  # originals, variants (+ the key source)
    for bucket in buckets.values():
        props = bucket["Properties"]
        assert props["PublicAccessBlockConfiguration"] == {
            "BlockPublicAcls": True,
            "BlockPublicPolicy": True,
            "IgnorePublicAcls": True,
            "RestrictPublicBuckets": True,
        }
        encryption = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert encryption["ServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    policies = resources(template, "AWS::S3::BucketPolicy")
    assert len(policies) == len(buckets)
    for policy in policies.values():
        assert "aws:SecureTransport" in dumped(policy["Properties"]["PolicyDocument"])


def test_variants_expire_and_originals_are_kept(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LifecycleConfiguration": {
                "Rules": Match.array_with([Match.object_like({"ExpirationInDays": 30, "Status": "Enabled"})])
            }
        },
    )
    template.has_resource(
        "AWS::S3::Bucket",
        {
            "Properties": Match.object_like({"VersioningConfiguration": {"Status": "Enabled"}}),
            "DeletionPolicy": "Retain",
        },
    )


def test_existing_originals_bucket_is_used_by_name(custom: Template) -> None:
    template = custom
    assert not any(
        "VersioningConfiguration" in b["Properties"] for b in resources(template, "AWS::S3::Bucket").values()
    )
    template.has_resource_properties(
        "AWS::Lambda::Function",
        {"Environment": {"Variables": Match.object_like({"VIPSFRONT_ORIGINALS_BUCKET": "team-photos"})}},
    )
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {"LifecycleConfiguration": {"Rules": [Match.object_like({"ExpirationInDays": 7})]}},
    )


# ---- the transform function


def transform_function(template: Template) -> dict[str, Any]:
    functions = resources(template, "AWS::Lambda::Function")
    (fn,) = (f for f in functions.values() if f["Properties"].get("Handler") == "handler.handler")
    return fn["Properties"]


def test_function_defaults(template: Template) -> None:
    props = transform_function(template)
    assert props["Runtime"] == "python3.12"
    assert props["Architectures"] == ["arm64"]
    assert props["MemorySize"] == 1769  # one vCPU: what the single-threaded codecs can use
    assert props["Timeout"] == 25
    assert props["TracingConfig"] == {"Mode": "Active"}
    assert props["ReservedConcurrentExecutions"] == DEFAULT_RESERVED_CONCURRENCY  # a cost guard by default


def test_function_environment(template: Template) -> None:
    env = transform_function(template)["Environment"]["Variables"]
    assert env["VIPSFRONT_VARIANT_LOOKUP"] == "0"
    assert env["VIPSFRONT_TRUST_PATH_FORM"] == "1"
    # the namespace is in the code; the service dimension is the stack's, so two stacks' metrics stay apart
    assert {name: v for name, v in env.items() if name.startswith("POWERTOOLS_")} == {
        "POWERTOOLS_SERVICE_NAME": "vipsfront-Vipsfront"
    }
    assert env.get("VIPSFRONT_LAMBDA_ARCH", "arm64") == "arm64"
    assert env["VIPSFRONT_LAMBDA_MEMORY_MB"] == "1769"
    assert env["VIPSFRONT_REQUEST_BUDGET_S"] == "22"
    unsigned = OriginSettings.from_env({k: v for k, v in env.items() if isinstance(v, str)}).policy.unsigned
    assert unsigned.widths == BREAKPOINT_WIDTHS and unsigned.heights == ()  # width only, as at the edge
    assert "thumb" in json.loads(env["VIPSFRONT_PRESETS"])
    assert "Ref" in env["VIPSFRONT_ORIGINALS_BUCKET"] and "Ref" in env["VIPSFRONT_VARIANTS_BUCKET"]
    assert "VIPSFRONT_SIGNING_KEYS" not in env  # the edge checks signatures; the secret stays out of Lambda


def test_function_options(custom: Template) -> None:
    props = transform_function(custom)
    assert props["Architectures"] == ["x86_64"]
    assert props["MemorySize"] == 3008
    assert props["Timeout"] == 40
    assert props["ReservedConcurrentExecutions"] == 20
    env = props["Environment"]["Variables"]
    assert env["VIPSFRONT_LAMBDA_ARCH"] == "x86_64"
    assert env["VIPSFRONT_UNSIGNED_WIDTHS"] == "320,640"
    assert json.loads(env["VIPSFRONT_PRESETS"]) == {"avatar": {"h": "96", "w": "96"}}
    custom.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 90})


def edge_config(template: Template) -> dict[str, Any]:
    code = edge_code(template)
    start = code.index('{"kvsId":')  # the rendered config (the deployed code is minified)
    config, _ = json.JSONDecoder().raw_decode(code[start:])
    assert isinstance(config, dict)
    return config


def function_env(template: Template) -> dict[str, str]:
    """The function's variables, bucket names (CloudFormation references) as placeholders."""
    env = transform_function(template)["Environment"]["Variables"]
    return {name: value if isinstance(value, str) else f"<{name}>" for name, value in env.items()}


@pytest.mark.parametrize("which", ["template", "custom"])
def test_edge_and_function_enforce_one_policy(which: str, request: pytest.FixtureRequest) -> None:
    template: Template = request.getfixturevalue(which)
    edge = edge_config(template)
    function = OriginSettings.from_env(function_env(template))
    assert edge["signed"] is True and "keys" not in edge
    assert Policy.from_config(edge) == function.policy
    assert function.policy.unsigned.heights == ()  # the edge's "heights": [] on both sides


def test_function_environment_is_the_stack_settings(stack: VipsfrontStack, template: Template) -> None:
    """The function's environment is the stack's one settings object, which reads back as itself."""
    settings = stack.origin_settings
    env = transform_function(template)["Environment"]["Variables"]
    runtime = {"MALLOC_ARENA_MAX", "POWERTOOLS_SERVICE_NAME"}  # for libc and Powertools, not the settings
    assert {k: v for k, v in env.items() if k not in runtime} == stack.resolve(settings.to_env())
    assert OriginSettings.from_env(settings.to_env()) == settings


def test_log_retention(template: Template) -> None:
    template.has_resource_properties("AWS::Logs::LogGroup", {"RetentionInDays": 30})
    props = transform_function(template)
    assert "LoggingConfig" in props


def test_function_url_needs_iam_and_only_this_distribution_may_call_it(template: Template) -> None:
    template.has_resource_properties("AWS::Lambda::Url", {"AuthType": "AWS_IAM"})
    permissions = {
        p["Properties"]["Action"]: p["Properties"]
        for p in resources(template, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "cloudfront.amazonaws.com"
    }
    assert set(permissions) == {"lambda:InvokeFunctionUrl", "lambda:InvokeFunction"}
    assert permissions["lambda:InvokeFunction"]["InvokedViaFunctionUrl"] is True
    for permission in permissions.values():
        assert ":distribution/" in dumped(permission["SourceArn"])
        assert "CdnDistribution" in dumped(permission["SourceArn"])
    template.has_resource_properties(
        "AWS::CloudFront::OriginAccessControl",
        {
            "OriginAccessControlConfig": Match.object_like(
                {"OriginAccessControlOriginType": "lambda", "SigningBehavior": "always"}
            )
        },
    )


def test_grants_are_least_privilege(template: Template) -> None:
    (policy,) = (
        p["Properties"]["PolicyDocument"]["Statement"]
        for name, p in resources(template, "AWS::IAM::Policy").items()
        if name.startswith("TransformFunctionServiceRole")
    )
    actions = [a for s in policy for a in (s["Action"] if isinstance(s["Action"], list) else [s["Action"]])]
    assert "s3:GetObject*" in actions
    assert "s3:PutObject" in actions
    assert not any(a.startswith("s3:Delete") or a == "s3:*" for a in actions)
    text = dumped(policy)
    assert "BucketsOriginals" in text and "BucketsVariants" in text
    put = [s for s in policy if "s3:PutObject" in dumped(s["Action"])]
    assert put and all("BucketsVariants" in dumped(s["Resource"]) for s in put)


# ---- the edge function and its keys


def test_edge_function_runtime_and_key_value_store(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CloudFront::Function",
        {
            "FunctionConfig": Match.object_like(
                {
                    "Runtime": "cloudfront-js-2.0",
                    "KeyValueStoreAssociations": [{"KeyValueStoreARN": Match.any_value()}],
                }
            ),
            "AutoPublish": True,
        },
    )
    template.resource_count_is("AWS::CloudFront::KeyValueStore", 1)


def test_edge_function_code_carries_the_config(template: Template) -> None:
    assert EDGE_JS.is_file(), f"{EDGE_JS.relative_to(ROOT)} is missing: the stack has no edge function code"
    code = edge_code(template)
    assert PLACEHOLDER not in code
    assert '"kvsId":"<token>"' in code
    unsigned = edge_config(template)["unsigned"]
    assert unsigned["widths"] == list(BREAKPOINT_WIDTHS) and unsigned["heights"] == []
    assert not unsigned["presets_only"] and not unsigned["full_size"]
    assert sorted(unsigned["params"]) == ["fit", "fm", "pos"]  # q, blur, bg, rot, ... only signed or in presets
    assert '"signed":true' in code and '"thumb":' in code


def test_edge_function_fits_cloudfront_limit(stack: VipsfrontStack) -> None:
    assert EDGE_JS.is_file(), f"{EDGE_JS.relative_to(ROOT)} is missing: the stack has no edge function code"
    errors = Annotations.from_stack(stack).find_error("*", Match.string_like_regexp(".*"))
    messages = [str(e.entry.data) for e in errors]
    assert not messages, f"the edge function must stay within {MAX_CODE_BYTES} bytes: {messages}"


def test_generated_key_is_written_once_and_imported(template: Template) -> None:
    template.has_resource_properties("Custom::VipsfrontSigningKey", {"Key": "signing-keys/k1.json", "KeyId": "k1"})
    store = template.find_resources("AWS::CloudFront::KeyValueStore")
    ((name, kvs),) = store.items()
    assert kvs["Properties"]["ImportSource"]["SourceType"] == "S3"
    assert "signing-keys/k1.json" in dumped(kvs["Properties"]["ImportSource"]["SourceArn"])
    assert any(dep.startswith("EdgeKeyk1") for dep in kvs["DependsOn"])
    generator = next(
        f["Properties"]
        for f in resources(template, "AWS::Lambda::Function").values()
        if f["Properties"].get("Handler") == "index.handler" and "token_urlsafe" in dumped(f["Properties"]["Code"])
    )
    assert "head_object" in generator["Code"]["ZipFile"]  # never overwrites an existing key


def test_provided_key_is_imported_from_an_asset_and_not_in_the_template(custom: Template) -> None:
    assert SECRET not in dumped(custom.to_json())
    custom.resource_count_is("Custom::VipsfrontSigningKey", 0)
    (kvs,) = resources(custom, "AWS::CloudFront::KeyValueStore").values()
    assert kvs["Properties"]["ImportSource"]["SourceType"] == "S3"
    assert "cdk-" in dumped(kvs["Properties"]["ImportSource"]["SourceArn"])  # the CDK assets bucket


# ---- the distribution


def distribution_config(template: Template) -> dict[str, Any]:
    (dist,) = resources(template, "AWS::CloudFront::Distribution").values()
    return dist["Properties"]["DistributionConfig"]


def test_origin_group_fails_over_from_s3_to_the_function(template: Template) -> None:
    config = distribution_config(template)
    (group,) = config["OriginGroups"]["Items"]
    assert sorted(group["FailoverCriteria"]["StatusCodes"]["Items"]) == [403, 404, 500, 502, 503, 504]
    members = [m["OriginId"] for m in group["Members"]["Items"]]
    origins = {o["Id"]: o for o in config["Origins"]}
    primary, fallback = origins[members[0]], origins[members[1]]
    assert "S3OriginConfig" in primary and primary["OriginAccessControlId"]
    assert "CustomOriginConfig" in fallback and fallback["OriginAccessControlId"]
    (url,) = resources(template, "AWS::Lambda::Url")  # the fallback is the host of the function's URL
    assert fallback["DomainName"] == {"Fn::Select": [2, {"Fn::Split": ["/", {"Fn::GetAtt": [url, "FunctionUrl"]}]}]}
    assert config["DefaultCacheBehavior"]["TargetOriginId"] == group["Id"]
    template.has_resource_properties(
        "AWS::CloudFront::OriginAccessControl",
        {"OriginAccessControlConfig": Match.object_like({"OriginAccessControlOriginType": "s3"})},
    )


def test_cache_key_and_origin_requests_carry_the_uri_only(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CloudFront::CachePolicy",
        {
            "CachePolicyConfig": Match.object_like(
                {
                    "ParametersInCacheKeyAndForwardedToOrigin": {
                        "QueryStringsConfig": {"QueryStringBehavior": "none"},
                        "HeadersConfig": {"HeaderBehavior": "none"},
                        "CookiesConfig": {"CookieBehavior": "none"},
                        "EnableAcceptEncodingGzip": False,
                        "EnableAcceptEncodingBrotli": False,
                    }
                }
            )
        },
    )
    template.has_resource_properties(
        "AWS::CloudFront::OriginRequestPolicy",
        {
            "OriginRequestPolicyConfig": Match.object_like(
                {
                    "QueryStringsConfig": {"QueryStringBehavior": "none"},
                    # only the edge's signature headers, for the origin's 307 on large variants
                    "HeadersConfig": {
                        "HeaderBehavior": "whitelist",
                        "Headers": ["x-vipsfront-signature", "x-vipsfront-expires"],
                    },
                    "CookiesConfig": {"CookieBehavior": "none"},
                }
            )
        },
    )
    behavior = distribution_config(template)["DefaultCacheBehavior"]
    assert {"CachePolicyId", "OriginRequestPolicyId", "ResponseHeadersPolicyId"} <= set(behavior)


def test_viewer_request_function_https_http3_price_class_and_error_ttls(template: Template) -> None:
    config = distribution_config(template)
    behavior = config["DefaultCacheBehavior"]
    assert [a["EventType"] for a in behavior["FunctionAssociations"]] == ["viewer-request"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    assert config["HttpVersion"] == "http2and3"
    assert config["PriceClass"] == "PriceClass_100"
    ttls = {r["ErrorCode"]: r["ErrorCachingMinTTL"] for r in config["CustomErrorResponses"]}
    assert {400, 403, 404, 500, 502, 503, 504} <= set(ttls)
    assert set(ttls.values()) == {10}
    assert all("ResponsePagePath" not in r for r in config["CustomErrorResponses"])
    assert not any("OriginShield" in o for o in config["Origins"])


def test_distribution_options(custom: Template) -> None:
    config = distribution_config(custom)
    assert config["PriceClass"] == "PriceClass_All"
    assert {r["ErrorCachingMinTTL"] for r in config["CustomErrorResponses"]} == {3}
    for origin in config["Origins"]:
        assert origin["OriginShield"] == {"Enabled": True, "OriginShieldRegion": "eu-west-1"}
    (policy,) = resources(custom, "AWS::CloudFront::ResponseHeadersPolicy").values()
    assert "CorsConfig" not in policy["Properties"]["ResponseHeadersPolicyConfig"]


def test_response_headers_policy(template: Template) -> None:
    template.has_resource_properties(
        "AWS::CloudFront::ResponseHeadersPolicy",
        {
            "ResponseHeadersPolicyConfig": Match.object_like(
                {
                    "CorsConfig": Match.object_like(
                        {
                            "AccessControlAllowOrigins": {"Items": ["*"]},
                            "AccessControlAllowMethods": {"Items": ["GET", "HEAD", "OPTIONS"]},
                        }
                    ),
                    "SecurityHeadersConfig": Match.object_like(
                        {
                            "StrictTransportSecurity": Match.object_like({"Override": True}),
                            "ContentTypeOptions": {"Override": True},
                            "FrameOptions": {"FrameOption": "DENY", "Override": True},
                            "ReferrerPolicy": Match.any_value(),
                            # a raw SVG served from S3 runs no script and loads nothing (docs/originals.md)
                            "ContentSecurityPolicy": {
                                "ContentSecurityPolicy": "default-src 'none'; img-src 'self'; "
                                "style-src 'unsafe-inline'; sandbox",
                                "Override": False,
                            },
                        }
                    ),
                }
            )
        },
    )


# ---- dashboard, alarms, outputs


def test_dashboard_shows_the_cost_metrics(template: Template) -> None:
    (dashboard,) = resources(template, "AWS::CloudWatch::Dashboard").values()
    body = dumped(dashboard["Properties"]["DashboardBody"])
    for name in (
        "TransformMs",
        "OutputBytes",
        "InputBytes",
        "InputMegapixels",
        "S3ReadMs",
        "S3WriteMs",
        "EstimatedCostUSD",
        "Transforms",
        "VariantHit",
        "VariantMiss",
    ):
        assert f'\\"{name}\\"' in body, name
    assert '\\"Vipsfront\\"' in body and '\\"service\\",\\"vipsfront-Vipsfront\\"' in body
    assert "p50" in body and "p99" in body
    assert "100 * hits / (hits + misses)" in body
    assert "1000000 * cost" in body
    assert '\\"period\\":3600' in body


def test_alarms_on_errors_and_throttles(template: Template) -> None:
    for metric in ("Errors", "Throttles"):
        template.has_resource_properties(
            "AWS::CloudWatch::Alarm", {"Namespace": "AWS/Lambda", "MetricName": metric, "Statistic": "Sum"}
        )
    # handled 5xx answers are not Lambda errors: the origin's own metric
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "Namespace": METRICS_NAMESPACE,
            "MetricName": "ServerErrors",
            "Dimensions": [{"Name": "service", "Value": "vipsfront-Vipsfront"}],
        },
    )


def test_outputs(template: Template) -> None:
    outputs = template.find_outputs("*")
    for name in ("DistributionDomain", "OriginalsBucketName", "VariantsBucketName", "ExampleUrl", "SigningKeyCommand"):
        assert name in outputs, name
    example = dumped(outputs["ExampleUrl"]["Value"])
    assert "https://" in example and "?w=640&fm=auto" in example
    assert "cloudfront-keyvaluestore get-key" in dumped(outputs["SigningKeyCommand"]["Value"])


# ---- cdk-nag, context


def test_cdk_nag_reports_no_unacknowledged_finding() -> None:
    for settings in (Settings(bundle=False), Settings(bundle=False, originals_bucket="team-photos")):
        stack = synth(settings, nag=True)  # app.synth() raises on an unacknowledged finding
        annotations = Annotations.from_stack(stack)
        assert not annotations.find_error("*", Match.string_like_regexp("AwsSolutions-.*"))
        assert not annotations.find_warning("*", Match.string_like_regexp("AwsSolutions-.*"))


def test_settings_from_context() -> None:
    app = aws_cdk.App(
        context={
            "vipsfront:arch": "x86_64",
            "vipsfront:memoryMb": "1536",
            "vipsfront:reservedConcurrency": "10",
            "vipsfront:bundle": "false",
            "vipsfront:unsignedWidths": "640,320",
            "vipsfront:presets": '{"a": {"w": 10}}',
            "vipsfront:corsOrigins": "https://a.example,https://b.example",
            "vipsfront:originShieldRegion": "us-east-1",
        }
    )
    settings = Settings.from_context(app.node)
    assert settings.arch == "x86_64" and settings.memory_mb == 1536 and settings.reserved_concurrency == 10
    assert settings.bundle is False
    assert settings.unsigned_widths == (320, 640)
    assert settings.presets == {"a": {"w": "10"}}
    assert settings.cors_origins == ("https://a.example", "https://b.example")
    assert settings.origin_shield_region == "us-east-1"
    assert context_key("variants_expire_days") == "variantsExpireDays"


@pytest.mark.parametrize(
    "bad",
    [{"arch": "mips"}, {"price_class": "50"}, {"timeout_seconds": 90}, {"signing_key": "k:short"}],
)
def test_settings_reject_bad_values(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        Settings(**bad)


@pytest.mark.parametrize(
    ("key", "value", "reason"),
    [
        ("presets", '{"thumb": {"w": "abc"}}', "preset 'thumb': w must be"),  # a value the grammar refuses
        ("presets", '{"thumb": {"zoom": "2"}}', "preset 'thumb'"),  # an unknown parameter
        ("presets", '{"Thumb!": {"w": "200"}}', "preset"),  # a name no URL can carry
        ("presets", '{"thumb": {"w": "200"}', "JSON object"),  # not JSON
        ("presets", '["thumb"]', "must look like"),  # not name -> params
        ("signingKey", "team:short", "16 or more characters"),
        ("signingKey", "bad kid:0123456789abcdef", "kid"),
        ("signingKeyId", "k/1", "[A-Za-z0-9_-]{1,32}"),
        ("unsignedWidths", "320,abc", "pixel sizes"),
        ("unsignedWidths", "0,320", "from 1 to 8192"),
        ("unsignedWidths", "320,9000", "from 1 to 8192"),
        ("maxSide", "0", "from 1 to 8192"),
        ("arch", "mips", "arm64 or x86_64"),
    ],
)
def test_bad_context_value_fails_synth_naming_its_key(key: str, value: str, reason: str) -> None:
    app = aws_cdk.App(context={f"vipsfront:{key}": value})
    with pytest.raises(ValueError) as caught:
        VipsfrontStack(app, "Vipsfront")
    message = str(caught.value)
    assert message.startswith(f"vipsfront:{key}: "), message
    assert reason in message, message


def test_synth_imports_only_the_runtime_validators() -> None:
    """The CDK app checks settings with the runtime's rules without importing libvips, the AWS SDK or
    the web stack (synth stays fast and needs none of the function's dependencies)."""
    import subprocess

    code = (
        "import sys; sys.path.insert(0, 'cdk'); import vipsfront_cdk, vipsfront_cdk.stack; "
        "print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'pyvips', 'boto3', 'botocore', 'fastapi', 'starlette', 'mangum', 'aws_lambda_powertools'} "
        "or m in {'vipsfront.engine.run', 'vipsfront.origin.serving', 'vipsfront.stores.s3', 'vipsfront.web.app'})))"
    )
    env = {**os.environ, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == ""


def test_dashboard_reads_the_namespace_the_function_writes(template: Template) -> None:
    assert METRICS_NAMESPACE in json.dumps(template.to_json())


def test_deploy_doc_lists_every_context_option() -> None:
    import dataclasses
    import re

    doc = (ROOT / "docs" / "deploy.md").read_text()
    documented = set(re.findall(r"^\| `vipsfront:(\w+)`", doc, flags=re.MULTILINE))
    expected = {context_key(f.name) for f in dataclasses.fields(Settings)} | {"stackName"}
    assert documented == expected
