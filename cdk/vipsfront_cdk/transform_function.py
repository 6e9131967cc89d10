"""The transform Lambda: the FastAPI origin behind Mangum, reached only by CloudFront through its URL."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import jsii
from aws_cdk import (
    Annotations,
    AssetHashType,
    BundlingOptions,
    CfnElement,
    DockerImage,
    Duration,
    ILocalBundling,
    Stack,
)
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from vipsfront.config.settings import DEFAULT_LAMBDA_MEMORY_MB, SERVICE_NAME
from vipsfront.config.settings import Settings as OriginSettings
from vipsfront_cdk.nag import acknowledge

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURES = {"arm64": lambda_.Architecture.ARM_64, "x86_64": lambda_.Architecture.X86_64}
RETENTION = {
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
}


def load_builder(root: Path = ROOT) -> ModuleType:
    """``layers/build.py`` as a module (it is a script, not an installed package)."""
    spec = importlib.util.spec_from_file_location("vipsfront_layer_build", root / "layers" / "build.py")
    if spec is None or spec.loader is None:
        raise FileNotFoundError(root / "layers" / "build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@jsii.implements(ILocalBundling)
class _LocalBuild:
    """CDK local bundling on this machine, never Docker: pip with platform options, then the bytecode
    compiled by a Python of the Lambda's version (``layers/build.py``)."""

    def __init__(self, builder: ModuleType, arch: str, deps: bool, root: Path) -> None:
        self._builder, self._arch, self._deps, self._root = builder, arch, deps, root

    def try_bundle(self, output_dir: str, *_args: Any, **_kwargs: Any) -> bool:
        self._builder.build(Path(output_dir), self._arch, deps=self._deps, root=self._root)
        return True


class TransformFunction(Construct):
    """``function`` runs ``functions/transform/handler.py``; ``url`` is its ``AWS_IAM`` Function URL.

    Its environment is ``settings.to_env()``: what ``vipsfront.config.settings.Settings.from_env`` reads back as
    ``settings``.

    ``bundle=False`` packs the sources without dependencies (fast synth for tests, not deployable);
    ``asset_dir`` uses a folder built beforehand with ``layers/build.py``.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        originals: s3.IBucket,
        variants: s3.IBucket,
        settings: OriginSettings,
        timeout_seconds: int = 25,
        reserved_concurrency: int | None = None,
        log_retention_days: int = 30,
        bundle: bool = True,
        asset_dir: str | None = None,
        root: Path = ROOT,
        service: str = SERVICE_NAME,
    ) -> None:
        super().__init__(scope, construct_id)
        self.arch = arch = settings.architecture.value
        self.memory_mb = memory_mb = settings.memory_mb or DEFAULT_LAMBDA_MEMORY_MB
        self.log_group = self._build_log_group(log_retention_days)
        self.code = code = self._build_code(arch, bundle, asset_dir, root)
        self.environment = environment = self._build_environment(settings, service)
        self.function = self._build_function(code, arch, memory_mb, timeout_seconds, reserved_concurrency, environment)
        self._build_grants(originals, variants)
        self.url = self.function.add_function_url(auth_type=lambda_.FunctionUrlAuthType.AWS_IAM)
        self._suppress(originals, variants)

    def _build_log_group(self, days: int) -> logs.LogGroup:
        return log_group(self, "Logs", days)

    def _build_code(self, arch: str, bundle: bool, asset_dir: str | None, root: Path) -> lambda_.Code:
        if asset_dir:
            return lambda_.Code.from_asset(asset_dir)
        builder = load_builder(root)
        if not bundle:
            Annotations.of(self).add_warning_v2(
                "vipsfront:unbundled",
                "vipsfront:bundle=false: the function's asset has no dependencies; synth only, do not deploy",
            )
        bytecode = bundle and builder.python_for(builder.PYTHON_VERSION) is not None
        if bundle and not bytecode:
            Annotations.of(self).add_warning_v2(
                "vipsfront:noBytecode", builder.NO_BYTECODE.format(version=builder.PYTHON_VERSION)
            )
        return lambda_.Code.from_asset(
            str(root / "layers"),  # not read: local bundling builds the folder from the sources
            asset_hash_type=AssetHashType.CUSTOM,
            asset_hash=builder.fingerprint(arch, deps=bundle, bytecode=bytecode, root=root),
            bundling=BundlingOptions(
                image=DockerImage.from_registry("none"),  # never used: local bundling always succeeds
                local=_LocalBuild(builder, arch, bundle, root),
            ),
        )

    def _build_environment(self, settings: OriginSettings, service: str) -> dict[str, str]:
        return {
            **settings.to_env(),
            # The metrics' service dimension (Powertools), this stack's own: see dashboard.py.
            "POWERTOOLS_SERVICE_NAME": service,
            # Bounds glibc's per-thread arenas, the classic source of RSS growth in libvips servers.
            "MALLOC_ARENA_MAX": "2",
        }

    def _build_function(
        self,
        code: lambda_.Code,
        arch: str,
        memory_mb: int,
        timeout_seconds: int,
        reserved_concurrency: int | None,
        environment: dict[str, str],
    ) -> lambda_.Function:
        return lambda_.Function(
            self,
            "Function",
            description="vipsfront: on-demand image transforms (pyvips) behind CloudFront",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=ARCHITECTURES[arch],
            handler="handler.handler",
            code=code,
            memory_size=memory_mb,
            timeout=Duration.seconds(timeout_seconds),
            reserved_concurrent_executions=reserved_concurrency,
            environment=environment,
            log_group=self.log_group,
            tracing=lambda_.Tracing.ACTIVE,
        )

    def _build_grants(self, originals: s3.IBucket, variants: s3.IBucket) -> None:
        originals.grant_read(self.function)
        variants.grant_read(self.function)
        variants.grant_put(self.function)

    def _suppress(self, originals: s3.IBucket, variants: s3.IBucket) -> None:
        objects = "Object-level grants: the function reads any original and reads/writes any variant key."
        acknowledge(
            self.function,
            {
                f"AwsSolutions-IAM5[Resource::{objects_arn(originals)}]": objects,
                f"AwsSolutions-IAM5[Resource::{objects_arn(variants)}]": objects,
                "AwsSolutions-IAM5[Action::s3:GetObject*]": "bucket.grant_read: GetObject and its versions/tags.",
                "AwsSolutions-IAM5[Action::s3:GetBucket*]": "bucket.grant_read: bucket location and metadata.",
                "AwsSolutions-IAM5[Action::s3:List*]": "bucket.grant_read: listing, so a missing key is a 404.",
                "AwsSolutions-IAM5[Action::s3:Abort*]": "bucket.grant_put: abort a failed multipart upload.",
                "AwsSolutions-IAM5[Resource::*]": "X-Ray PutTraceSegments/PutTelemetryRecords take no resource.",
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]": "Only lets the function write its own logs.",
                "AwsSolutions-L1": "Pinned to Python 3.12, the version layers/build.py installs wheels for; "
                "bump both together.",
            },
        )


def objects_arn(bucket: s3.IBucket) -> str:
    """How cdk-nag writes ``bucket/*`` in a finding id."""
    child = bucket.node.default_child
    if isinstance(child, CfnElement):
        logical_id = Stack.of(bucket).resolve(Stack.of(bucket).get_logical_id(child))
        return f"<{logical_id}.Arn>/*"
    return f"arn:<AWS::Partition>:s3:::{bucket.bucket_name}/*"


def log_group(scope: Construct, construct_id: str, days: int) -> logs.LogGroup:
    """A log group kept ``days`` days (one of CloudWatch's retention periods)."""
    if days not in RETENTION:
        raise ValueError(f"log retention must be one of {sorted(RETENTION)} days, not {days}")
    return logs.LogGroup(scope, construct_id, retention=RETENTION[days])
