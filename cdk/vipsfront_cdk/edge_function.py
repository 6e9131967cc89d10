"""The viewer-request CloudFront Functions and the KeyValueStore that holds their signing keys.

One function per cache behaviour (``vipsfront:dialects``): the default behaviour's reads the ``"/"``
dialect (native without one); with dialects, a native function reads the canonical path form
(``*/_vf/*``, always native) and each other prefix has a behaviour ``{prefix}*`` whose function reads
its dialect and strips the prefix. Each is built by ``functions/edge/build.mjs`` for its dialect and
must fit the size budget on its own; a dialect's build that does not (``dit``), or a dialect with its own
``secret`` (the edge checks no dialect's signatures), gets no function: its behaviour goes to the
Function URL alone and the origin reads the dialect's URL (``EdgeBehaviour.function`` is ``None``).

The ``/_vf/info/*`` behaviour has its own small function, ``functions/edge/info_request.js``
(``build.mjs --info``): it checks the key, applies the info policy and rewrites the path to the key's
origin form (``vipsfront.url.keys.info_path``), as the native function does for variants, so that the
Function URL's SigV4 check reads it as CloudFront signed it.

The function's source (``functions/edge/viewer_request.js``) has a line ``var CONFIG = __VIPSFRONT_CONFIG__;``;
the token is replaced at synth with a JSON object: ``kvsId``, then the deployment's ``Policy`` as
``Policy.to_config`` renders it (``presets`` and ``unsigned``, the shape of ``tests/vectors/*.json``; the
Lambda's environment is rendered from the same policy) and ``signed``. Signing secrets never enter the
code: they live in the store as ``key:<kid>`` -> secret.

Where the first key comes from:

- provided (``signing_key="kid:secret"``): the store is created with it, imported from a CDK asset;
- otherwise generated once, at the first deploy, in AWS: a small custom resource writes a random secret
  to a private bucket object (and never overwrites it), and the store imports that object when it is
  created. Later deploys change nothing, so the key does not rotate; a new ``signing_key_id`` makes a
  new object and a new store, which is how the deployed key is replaced.

Read it back with ``aws cloudfront-keyvaluestore get-key --kvs-arn <arn> --key key:<kid>``.
"""

from __future__ import annotations

import functools
import hashlib
import json
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Annotations, CustomResource, Duration, RemovalPolicy
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from vipsfront.url.dialects.base import Options
from vipsfront.url.dialects.choice import NATIVE, Dialects
from vipsfront.url.policy import Policy
from vipsfront_cdk.nag import acknowledge

PLACEHOLDER = "__VIPSFRONT_CONFIG__"
CANONICAL_PATTERN = "*/_vf/*"  # the canonical path form, always native: before every prefix's behaviour
MAX_CODE_BYTES = 10 * 1024  # CloudFront Functions' code size limit
KVS_ID_BYTES = 36  # a KeyValueStore id is a UUID
_KVS_TOKEN = "__VIPSFRONT_KVS_ID__"

# Fails closed: until the real function exists, nothing reaches the origin.
STUB_CODE = """function handler(event) {
  return { statusCode: 503, statusDescription: "Service Unavailable",
           headers: { "cache-control": { value: "no-store" } } };
}
"""

# Inline (ZipFile) code, so the cfnresponse module is available and nothing needs bundling.
GENERATE_KEY_CODE = """
import json, secrets
import boto3, cfnresponse

s3 = boto3.client("s3")


def handler(event, context):
    props = event["ResourceProperties"]
    bucket, key, kid = props["Bucket"], props["Key"], props["KeyId"]
    physical = "s3://%s/%s" % (bucket, key)
    try:
        if event["RequestType"] == "Delete":
            s3.delete_object(Bucket=bucket, Key=key)
        else:
            try:
                s3.head_object(Bucket=bucket, Key=key)  # never overwrite: the key must not rotate
            except s3.exceptions.ClientError as error:
                if error.response["Error"]["Code"] not in ("404", "NoSuchKey", "NotFound"):
                    raise
                item = {"key": "key:" + kid, "value": secrets.token_urlsafe(32)}
                s3.put_object(Bucket=bucket, Key=key, Body=json.dumps({"data": [item]}).encode(),
                              ContentType="application/json")
        cfnresponse.send(event, context, cfnresponse.SUCCESS, {"Key": key}, physical)
    except Exception as error:  # report, or CloudFormation waits an hour
        print("failed: %r" % (error,))
        cfnresponse.send(event, context, cfnresponse.FAILED, {}, physical, reason=str(error)[:200])
"""


# What deploys is the source minified by build.mjs beside it (terser, a root devDependency: `npm ci`).
BUILD_SCRIPT = "build.mjs"
INFO_SOURCE = "info_request.js"  # beside the viewer-request source: the /_vf/info/* behaviour's function
CODE_BUDGET_BYTES = 9728  # synth fails above this (minified code + config): 512 bytes of room under MAX_CODE_BYTES


def minified(code_path: Path, dialect: str = NATIVE, *, prefixed: bool = False) -> str:
    """The function as it deploys: ``code_path`` built for ``dialect`` (under a path prefix when
    ``prefixed``; a dialect's build always is) and minified by the ``build.mjs`` beside it (needs node)."""
    return _built(code_path.parent, ("--dialect", dialect, *(("--prefixed",) if prefixed else ())))


def minified_info(edge_dir: Path) -> str:
    """``edge_dir``'s ``info_request.js`` as it deploys, minified by ``build.mjs --info`` (needs node)."""
    return _built(edge_dir, ("--info",))


def _built(edge_dir: Path, args: tuple[str, ...]) -> str:
    sources = "".join(path.read_text() for path in sorted(edge_dir.rglob("*.js")))
    return _minify(str(edge_dir / BUILD_SCRIPT), args, hashlib.sha256(sources.encode()).hexdigest())


@functools.cache
def _minify(script: str, args: tuple[str, ...], sources: str) -> str:
    """``sources``: a digest of the files the build reads, so that an edit builds again."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is not on PATH: it minifies the edge function at synth (run `npm ci` first)")
    result = subprocess.run([node, script, *args], capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"minifying the edge function failed: {result.stderr.strip() or result.returncode}")
    return result.stdout


def render(source: str, kvs_id: str | None, config: Mapping[str, object]) -> str:
    """Replace the placeholder in ``source`` with the config object, ``kvsId`` first (none for a function
    that reads no store)."""
    if PLACEHOLDER not in source:
        raise ValueError(f"the edge function has no {PLACEHOLDER} placeholder")
    if kvs_id is None:
        return source.replace(PLACEHOLDER, json.dumps(config, separators=(",", ":")))
    text = json.dumps({"kvsId": _KVS_TOKEN, **config}, separators=(",", ":"))
    return source.replace(PLACEHOLDER, text.replace(_KVS_TOKEN, kvs_id))


def edge_config(policy: Policy, prefix: str = "/", options: Options | None = None) -> dict[str, object]:
    """The function's config: ``policy`` without its keys (they are in the store), signatures required;
    under a path prefix, the ``prefix``; for a dialect, its ``name`` and ``buckets`` (never its secret)."""
    config: dict[str, object] = {**policy.to_config(), "signed": True}
    if prefix != "/":
        config["prefix"] = prefix
    if options is not None and options.dialect != NATIVE:
        config["dialect"] = {"name": options.dialect, **({"buckets": dict(options.buckets)} if options.buckets else {})}
    return config


def info_config(policy: Policy) -> dict[str, object]:
    """The info function's config: what ``Policy.authorize_info`` reads (the prefixes and the unsigned
    ``info`` switch), signatures required as in ``edge_config``."""
    config = policy.to_config()
    return {"prefixes": config["prefixes"], "unsigned": {"info": config["unsigned"]["info"]}, "signed": True}


@dataclass(frozen=True)
class EdgeBehaviour:
    """A cache behaviour the distribution adds, in order, before its default: path pattern and function
    (``None``: the origin reads the prefix's URLs itself, the behaviour goes to the Function URL alone)."""

    path_pattern: str
    function: cloudfront.Function | None


class EdgeFunction(Construct):
    """``function``: the default behaviour's viewer-request function (``None`` when the ``"/"`` dialect is
    served by the origin); ``behaviours``: the path-pattern behaviours and their functions (none without
    dialects); ``info_function``: the ``/_vf/info/*`` behaviour's (``info_request.js`` beside
    ``code_path``); ``key_value_store``: the signing keys."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        code_path: Path,
        policy: Policy,
        signing_key: str | None = None,
        signing_key_id: str = "k1",
        dialects: Dialects | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key_id = signing_key.partition(":")[0] if signing_key else signing_key_id
        if signing_key:
            self.key_value_store = self._build_provided_store(signing_key)
        else:
            self.key_value_store = self._build_generated_store(signing_key_id)
        prefixes = dict((dialects or Dialects()).prefixes)
        root = prefixes.pop("/", Options(NATIVE))
        self.function = self._edge_or_origin("ViewerRequest", code_path, policy, "/", root)
        self.info_function = self._build_info_function(code_path.parent / INFO_SOURCE, policy)
        self.behaviours: list[EdgeBehaviour] = []
        if not prefixes and root.dialect == NATIVE:
            return
        canonical = self.function
        if root.dialect != NATIVE:
            canonical = self._build_function("ViewerRequestCanonical", code_path, policy, "/", Options(NATIVE))
        self.behaviours.append(EdgeBehaviour(CANONICAL_PATTERN, canonical))
        for index, prefix in enumerate(sorted(prefixes, key=len, reverse=True)):
            function = self._edge_or_origin(f"ViewerRequest{index}", code_path, policy, prefix, prefixes[prefix])
            self.behaviours.append(EdgeBehaviour(f"{prefix}*", function))

    def _edge_or_origin(
        self, construct_id: str, code_path: Path, policy: Policy, prefix: str, options: Options
    ) -> cloudfront.Function | None:
        """The prefix's function, or ``None`` when the origin must read its URLs: the dialect has its own
        signatures (the edge would judge every URL by the unsigned policy) or its build is over the budget."""
        why = None
        if options.secret is not None:
            why = f"the edge does not check {options.dialect} signatures"
        elif options.dialect != NATIVE and code_path.is_file():
            size = self._rendered_size(code_path, policy, prefix, options)
            if size > CODE_BUDGET_BYTES:
                why = f"its function would be {size} bytes, over the {CODE_BUDGET_BYTES}-byte budget"
        if why is None:
            return self._build_function(construct_id, code_path, policy, prefix, options)
        Annotations.of(self).add_info(
            f"vipsfront:dialects: {prefix!r} ({options.dialect}) has no edge function, {why}: its behaviour goes "
            "to the function URL, which reads its URLs (docs/migrating.md, At the edge)"
        )
        return None

    def _rendered_size(self, code_path: Path, policy: Policy, prefix: str, options: Options) -> int:
        """The function's size as it deploys, the store's id at its full length."""
        source = minified(code_path, options.dialect, prefixed=prefix != "/")
        return len(render(source, "x" * KVS_ID_BYTES, edge_config(policy, prefix, options)).encode())

    def _build_provided_store(self, signing_key: str) -> cloudfront.KeyValueStore:
        kid, _, secret = signing_key.partition(":")
        data = json.dumps({"data": [{"key": f"key:{kid}", "value": secret}]})
        # A store imports its data only when it is created: a new key gets a new store.
        fingerprint = hashlib.sha256(signing_key.encode()).hexdigest()[:8]
        return cloudfront.KeyValueStore(
            self,
            f"Keys{fingerprint}",
            comment=f"vipsfront signing keys (provided, kid {kid})",
            source=cloudfront.ImportSource.from_inline(data),
        )

    def _build_generated_store(self, kid: str) -> cloudfront.KeyValueStore:
        bucket = s3.Bucket(
            self,
            "KeySource",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.DESTROY,
        )
        object_key = f"signing-keys/{kid}.json"
        generator = lambda_.Function(
            self,
            "GenerateKey",
            description="vipsfront: writes a random signing key once, for the KeyValueStore to import",
            runtime=lambda_.Runtime.PYTHON_3_12,
            handler="index.handler",
            code=lambda_.Code.from_inline(GENERATE_KEY_CODE),
            timeout=Duration.seconds(30),
            log_group=logs.LogGroup(self, "GenerateKeyLogs", retention=logs.RetentionDays.ONE_MONTH),
        )
        # Exactly one object, and listing so that a missing object answers 404 rather than 403.
        generator.add_to_role_policy(
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                resources=[bucket.arn_for_objects(object_key)],
            )
        )
        generator.add_to_role_policy(iam.PolicyStatement(actions=["s3:ListBucket"], resources=[bucket.bucket_arn]))
        secret_object = CustomResource(
            self,
            f"Key{kid}",
            service_token=generator.function_arn,
            resource_type="Custom::VipsfrontSigningKey",
            properties={"Bucket": bucket.bucket_name, "Key": object_key, "KeyId": kid},
        )
        store = cloudfront.KeyValueStore(
            self,
            f"Keys{kid}",
            comment=f"vipsfront signing keys (generated, kid {kid})",
            source=cloudfront.ImportSource.from_bucket(bucket, object_key),
        )
        store.node.add_dependency(secret_object)
        self._suppress_generator(bucket, generator)
        return store

    def _build_function(
        self, construct_id: str, code_path: Path, policy: Policy, prefix: str, options: Options
    ) -> cloudfront.Function:
        native = options.dialect == NATIVE
        config = edge_config(policy, prefix, options)
        if code_path.is_file():
            source = minified(code_path, options.dialect, prefixed=prefix != "/")
            code = render(source, self.key_value_store.key_value_store_id, config)
            self._check_budget(
                self._rendered_size(code_path, policy, prefix, options),
                f"{code_path.name}, built for {options.dialect} at {prefix!r} and minified, with its config",
            )
        else:
            code = self._stub(code_path)
        # a dialect's build reads no signature: only native builds need the store
        return cloudfront.Function(
            self,
            construct_id,
            comment="vipsfront: canonical spec, fm=auto, signatures, URI rewrite"
            if native
            else f"vipsfront: {options.dialect} URLs at {prefix}: canonical spec, fm=auto, policy, URI rewrite",
            code=cloudfront.FunctionCode.from_inline(code),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
            key_value_store=self.key_value_store if native else None,
        )

    def _build_info_function(self, code_path: Path, policy: Policy) -> cloudfront.Function:
        if code_path.is_file():
            code = render(minified_info(code_path.parent), None, info_config(policy))
            self._check_budget(len(code.encode()), f"{code_path.name}, minified, with its config")
        else:
            code = self._stub(code_path)
        # reads no signature and no store: info has no signed form (Policy.authorize_info)
        return cloudfront.Function(
            self,
            "InfoRequest",
            comment="vipsfront: /_vf/info/{key} checked and rewritten to the key's origin form",
            code=cloudfront.FunctionCode.from_inline(code),
            runtime=cloudfront.FunctionRuntime.JS_2_0,
        )

    def _check_budget(self, size: int, what: str) -> None:
        if size > CODE_BUDGET_BYTES:
            # An error annotation fails `cdk synth` and `cdk deploy`, before CloudFront's own limit.
            Annotations.of(self).add_error(
                f"{what} is {size} bytes, over the {CODE_BUDGET_BYTES}-byte budget (CloudFront Functions' limit "
                f"is {MAX_CODE_BYTES})"
            )

    def _stub(self, code_path: Path) -> str:
        Annotations.of(self).add_warning_v2(
            "vipsfront:edgeStub", f"{code_path} not found: the viewer-request function answers 503 to everything"
        )
        return STUB_CODE

    def _suppress_generator(self, bucket: s3.Bucket, generator: lambda_.Function) -> None:
        acknowledge(
            bucket,
            {
                "AwsSolutions-S1": "Holds one object, written once by the key generator and read by "
                "CloudFront when the KeyValueStore is created; nothing else reads it.",
            },
        )
        acknowledge(
            generator,
            {
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AWSLambdaBasicExecutionRole]": "Only lets the generator write its own logs.",
                "AwsSolutions-L1": "Same pinned Python as the transform function; the inline code needs nothing newer.",
            },
        )
