"""CloudFront: the viewer-request function in front of an S3-first origin group that falls back to the function."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import Aws, CfnRule, CfnRuleAssertion, Duration, Fn, RemovalPolicy, Stack, Token
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

from vipsfront_cdk.edge_function import EdgeBehaviour
from vipsfront_cdk.nag import acknowledge

# S3 answers 403 for a missing object when the reader may not list the bucket, 404 when it may.
FAILOVER_STATUS_CODES = [403, 404, 500, 502, 503, 504]
ERROR_STATUS_CODES = [400, 403, 404, 405, 414, 416, 500, 501, 502, 503, 504]
PRICE_CLASSES = {
    "100": cloudfront.PriceClass.PRICE_CLASS_100,
    "200": cloudfront.PriceClass.PRICE_CLASS_200,
    "All": cloudfront.PriceClass.PRICE_CLASS_ALL,
}


SIGNATURE_HEADERS = ("x-vipsfront-signature", "x-vipsfront-expires")
# The info document: its own function rewrites the key to its origin form; before */_vf/*, which matches it too.
INFO_PATTERN = "/_vf/info/*"
# Answers that must never be cached: the health check and the API description (the edge lets both through).
UNCACHED_PATHS = ("/_vf/health", "/_vf/openapi.json")
# CloudFront does not deliver standard logs to a bucket in these Regions (Amazon CloudFront Developer Guide,
# "Choosing an Amazon S3 bucket for your standard logs"); the log bucket is created in the stack's Region.
NO_LOG_DELIVERY_REGIONS = ("af-south-1", "ap-east-1", "eu-south-1", "me-south-1")
TLS_POLICIES = {
    "TLSv1.2_2021": cloudfront.SecurityPolicyProtocol.TLS_V1_2_2021,
    "TLSv1.2_2019": cloudfront.SecurityPolicyProtocol.TLS_V1_2_2019,
    "TLSv1.2_2018": cloudfront.SecurityPolicyProtocol.TLS_V1_2_2018,
}


class Distribution(Construct):
    """``distribution``: the default behaviour and one per dialect prefix (``behaviours``), each with its
    own viewer-request function and the same origin group and policies; every equivalent URL shares one
    cache key (the rewritten URI), whichever behaviour rewrote it. ``/_vf/info/*`` goes to the function
    alone (nothing in the variants bucket answers it), through ``info_request``, cached as the rest. A
    behaviour (or the default) without a function goes to the function alone too, keyed on the path, the
    whole query string and ``Accept``: nothing rewrote its URL, the origin reads it and looks up the
    stored variant itself."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        variants: s3.IBucket,
        function_url: lambda_.IFunctionUrl,
        viewer_request: cloudfront.IFunction | None,
        info_request: cloudfront.IFunction,
        behaviours: Sequence[EdgeBehaviour] = (),
        read_timeout_seconds: int = 30,
        price_class: str = "100",
        origin_shield_region: str | None = None,
        cors_origins: tuple[str, ...] = ("*",),
        error_ttl_seconds: int = 10,
        web_acl_arn: str | None = None,
        domain_names: tuple[str, ...] = (),
        certificate_arn: str | None = None,
        minimum_tls: str = "TLSv1.2_2021",
        access_logs_expire_days: int | None = None,
        additional_metrics: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        self.transform_origin = self._build_transform_origin(function_url, read_timeout_seconds, origin_shield_region)
        origin = self._build_origin_group(variants, self.transform_origin, origin_shield_region)
        self.cache_policy = self._build_cache_policy()
        self.origin_request_policy = self._build_origin_request_policy()
        self.response_headers_policy = self._build_response_headers_policy(cors_origins)
        origin_only = viewer_request is None or any(b.function is None for b in behaviours)
        self.origin_cache_policy = self._build_origin_cache_policy() if origin_only else None
        self.log_bucket = self._build_log_bucket(access_logs_expire_days) if access_logs_expire_days else None
        self.distribution = self._build_distribution(
            self.transform_origin if viewer_request is None else origin,
            viewer_request,
            price_class,
            error_ttl_seconds,
            cors=bool(cors_origins),
            web_acl_arn=web_acl_arn,
            domain_names=domain_names,
            certificate_arn=certificate_arn,
            minimum_tls=minimum_tls,
        )
        self._add_uncached_behaviours()
        self.distribution.add_behavior(
            INFO_PATTERN, self.transform_origin, **self._behaviour_options(info_request, cors=bool(cors_origins))
        )
        for behaviour in behaviours:
            self.distribution.add_behavior(
                behaviour.path_pattern,
                self.transform_origin if behaviour.function is None else origin,
                **self._behaviour_options(behaviour.function, cors=bool(cors_origins)),
            )
        if additional_metrics:
            self._enable_additional_metrics()
        self._suppress(custom_certificate=certificate_arn is not None)

    def _build_transform_origin(
        self, function_url: lambda_.IFunctionUrl, read_timeout_seconds: int, origin_shield_region: str | None
    ) -> cloudfront.IOrigin:
        shield = {"origin_shield_region": origin_shield_region} if origin_shield_region else {}
        # with_origin_access_control also grants cloudfront.amazonaws.com, for this distribution only, both
        # lambda:InvokeFunctionUrl and lambda:InvokeFunction (InvokedViaFunctionUrl), as newer URLs need.
        return origins.FunctionUrlOrigin.with_origin_access_control(
            function_url,
            read_timeout=Duration.seconds(read_timeout_seconds),
            connection_attempts=1,  # a transform is expensive: never run it twice for one request
            **shield,
        )

    def _build_origin_group(
        self, variants: s3.IBucket, transform: cloudfront.IOrigin, origin_shield_region: str | None
    ) -> origins.OriginGroup:
        shield = {"origin_shield_region": origin_shield_region} if origin_shield_region else {}
        stored = origins.S3BucketOrigin.with_origin_access_control(variants, **shield)
        return origins.OriginGroup(
            primary_origin=stored,
            fallback_origin=transform,
            fallback_status_codes=FAILOVER_STATUS_CODES,
        )

    def _build_cache_policy(self) -> cloudfront.CachePolicy:
        # The edge function has already folded query, Accept and dpr into the URI.
        return self._cache_policy(
            "UriOnly",
            "vipsfront: the cache key is the rewritten URI alone",
            cloudfront.CacheQueryStringBehavior.none(),
            cloudfront.CacheHeaderBehavior.none(),
        )

    def _build_origin_cache_policy(self) -> cloudfront.CachePolicy:
        # No function folded the URL: a dialect's parameters are in its path and query (dit's base64 path,
        # its query overrides), and Accept chooses the format of an fm=auto URL (imgix's auto=format). What
        # the cache key holds CloudFront also sends to the origin, so no origin request policy is needed.
        return self._cache_policy(
            "PathQueryAccept",
            "vipsfront: URLs the origin reads, keyed on path, query and Accept",
            cloudfront.CacheQueryStringBehavior.all(),
            cloudfront.CacheHeaderBehavior.allow_list("Accept"),
        )

    def _cache_policy(
        self,
        name: str,
        comment: str,
        query: cloudfront.CacheQueryStringBehavior,
        headers: cloudfront.CacheHeaderBehavior,
    ) -> cloudfront.CachePolicy:
        """A cache policy keyed on ``query`` and ``headers`` besides the path, with no cookies and no
        Accept-Encoding (images are not compressed again), and the variants' lifetimes."""
        return cloudfront.CachePolicy(
            self,
            name,
            comment=comment,
            query_string_behavior=query,
            header_behavior=headers,
            cookie_behavior=cloudfront.CacheCookieBehavior.none(),
            enable_accept_encoding_gzip=False,
            enable_accept_encoding_brotli=False,
            min_ttl=Duration.seconds(0),
            default_ttl=Duration.days(30),
            max_ttl=Duration.days(365),
        )

    def _build_origin_request_policy(self) -> cloudfront.OriginRequestPolicy:
        # Beyond the URI only the edge function's signature headers reach the origins (Host stays the
        # origin's, as OAC needs): the function needs them to keep its 307 for a large variant signed.
        return cloudfront.OriginRequestPolicy(
            self,
            "UriOnlyToOrigin",
            comment="vipsfront: forward the URI and the edge's signature headers only",
            query_string_behavior=cloudfront.OriginRequestQueryStringBehavior.none(),
            header_behavior=cloudfront.OriginRequestHeaderBehavior.allow_list(*SIGNATURE_HEADERS),
            cookie_behavior=cloudfront.OriginRequestCookieBehavior.none(),
        )

    def _build_response_headers_policy(self, cors_origins: tuple[str, ...]) -> cloudfront.ResponseHeadersPolicy:
        cors = None
        if cors_origins:
            cors = cloudfront.ResponseHeadersCorsBehavior(
                access_control_allow_origins=list(cors_origins),
                access_control_allow_methods=["GET", "HEAD", "OPTIONS"],
                access_control_allow_headers=["*"],
                access_control_allow_credentials=False,
                access_control_expose_headers=["Server-Timing", "Content-Length"],
                access_control_max_age=Duration.days(1),
                origin_override=True,
            )
        return cloudfront.ResponseHeadersPolicy(
            self,
            "Headers",
            comment="vipsfront: security headers and CORS",
            cors_behavior=cors,
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365), include_subdomains=True, override=True
                ),
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.STRICT_ORIGIN_WHEN_CROSS_ORIGIN,
                    override=True,
                ),
                # the origin's own policy wins; this one covers what S3 serves (an SVG original kept as SVG)
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy="default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox",
                    override=False,
                ),
            ),
        )

    def _check_log_region(self) -> None:
        """Refuse a Region CloudFront cannot deliver standard logs to: at synth when the stack names its
        Region, else at deploy (a template rule, before any resource is made)."""
        region = Stack.of(self).region
        message = (
            "vipsfront:accessLogs: CloudFront does not deliver standard logs to an S3 bucket in {}; deploy the "
            "stack in another Region or leave vipsfront:accessLogs off"
        )
        if not Token.is_unresolved(region):
            if region in NO_LOG_DELIVERY_REGIONS:
                raise ValueError(message.format(region))
            return
        CfnRule(
            self,
            "LogDeliveryRegion",
            assertions=[
                CfnRuleAssertion(
                    assert_=Fn.condition_not(Fn.condition_contains(list(NO_LOG_DELIVERY_REGIONS), Aws.REGION)),
                    assert_description=message.format("this Region (" + ", ".join(NO_LOG_DELIVERY_REGIONS) + ")"),
                )
            ],
        )

    def _build_log_bucket(self, expire_days: int) -> s3.Bucket:
        self._check_log_region()
        # CloudFront's standard logs are written with an ACL: the bucket must accept ACLs (object writer).
        bucket = s3.Bucket(
            self,
            "Logs",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.OBJECT_WRITER,
            versioned=False,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireLogs",
                    expiration=Duration.days(expire_days),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            bucket,
            {"AwsSolutions-S1": "This bucket holds the distribution's access logs; logging it would loop."},
        )
        return bucket

    def _build_distribution(
        self,
        origin: cloudfront.IOrigin,
        viewer_request: cloudfront.IFunction | None,
        price_class: str,
        error_ttl_seconds: int,
        *,
        cors: bool,
        web_acl_arn: str | None,
        domain_names: tuple[str, ...],
        certificate_arn: str | None,
        minimum_tls: str,
    ) -> cloudfront.Distribution:
        certificate = (
            {
                "domain_names": list(domain_names),
                "certificate": acm.Certificate.from_certificate_arn(self, "Certificate", certificate_arn),
                "minimum_protocol_version": TLS_POLICIES[minimum_tls],
            }
            if certificate_arn
            else {}
        )
        logging = (
            {"enable_logging": True, "log_bucket": self.log_bucket, "log_file_prefix": "cloudfront/"}
            if self.log_bucket
            else {}
        )
        return cloudfront.Distribution(
            self,
            "Distribution",
            comment="vipsfront image transforms",
            web_acl_id=web_acl_arn,
            **certificate,
            **logging,
            default_behavior=cloudfront.BehaviorOptions(
                origin=origin, **self._behaviour_options(viewer_request, cors=cors)
            ),
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=PRICE_CLASSES[price_class],
            # Short, so a fixed original or a transient fault is not served from cache for long.
            error_responses=[
                cloudfront.ErrorResponse(http_status=code, ttl=Duration.seconds(error_ttl_seconds))
                for code in ERROR_STATUS_CODES
            ],
        )

    def _behaviour_options(self, viewer_request: cloudfront.IFunction | None, *, cors: bool) -> dict[str, Any]:
        """What the default behaviour, the info behaviour and each dialect prefix's behaviour share: all but
        the function (and the info behaviour's origin); without a function, the policies of URLs the origin
        reads (``origin_cache_policy``, no origin request policy)."""
        if viewer_request is None:
            assert self.origin_cache_policy is not None
            return {**self._shared_options(cors), "cache_policy": self.origin_cache_policy}
        return {
            **self._shared_options(cors),
            "cache_policy": self.cache_policy,
            "origin_request_policy": self.origin_request_policy,
            "function_associations": [
                cloudfront.FunctionAssociation(
                    function=viewer_request, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                )
            ],
        }

    def _shared_options(self, cors: bool) -> dict[str, Any]:
        return {
            "viewer_protocol_policy": cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
            # OPTIONS only with CORS: the origin answers the preflight and this policy adds the CORS
            # headers. Preflights are not cached: they vary by Origin and Access-Control-Request-*
            # headers, which the URI-only cache key leaves out (browsers keep them for max-age).
            "allowed_methods": (
                cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS if cors else cloudfront.AllowedMethods.ALLOW_GET_HEAD
            ),
            "cached_methods": cloudfront.CachedMethods.CACHE_GET_HEAD,
            "response_headers_policy": self.response_headers_policy,
            "compress": False,  # images are compressed already
        }

    def _add_uncached_behaviours(self) -> None:
        """The health check and the API description go straight to the function, never cached."""
        for path in UNCACHED_PATHS:
            self.distribution.add_behavior(
                path,
                self.transform_origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD,
                cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD,
                cache_policy=cloudfront.CachePolicy.CACHING_DISABLED,
                origin_request_policy=self.origin_request_policy,
                response_headers_policy=self.response_headers_policy,
                compress=True,
            )

    def _enable_additional_metrics(self) -> None:
        """CloudFront's additional metrics, among them CacheHitRate, for the dashboard (billed per metric)."""
        cloudfront.CfnMonitoringSubscription(
            self,
            "AdditionalMetrics",
            distribution_id=self.distribution.distribution_id,
            monitoring_subscription=cloudfront.CfnMonitoringSubscription.MonitoringSubscriptionProperty(
                realtime_metrics_subscription_config=cloudfront.CfnMonitoringSubscription.RealtimeMetricsSubscriptionConfigProperty(
                    realtime_metrics_subscription_status="Enabled"
                )
            ),
        )

    def _suppress(self, *, custom_certificate: bool) -> None:
        reasons = {
            "AwsSolutions-CFR1": "Images are public content; a team that must restrict countries adds it.",
            "AwsSolutions-CFR2": "A web ACL is optional (vipsfront:wafRateLimit or vipsfront:webAclArn): cost "
            "abuse is bounded without it by the edge function (signatures; unsigned only for breakpoint "
            "widths and presets; size caps) and the function's reserved concurrency.",
            "AwsSolutions-CFR3": "Standard logs are optional (vipsfront:accessLogs): they cost per request "
            "and storage; the function's metrics and CloudFront's own metrics cover operations.",
        }
        if not custom_certificate:
            reasons["AwsSolutions-CFR4"] = (
                "The default *.cloudfront.net certificate does not allow choosing the TLS policy; "
                "vipsfront:minimumTls applies as soon as vipsfront:domainNames and vipsfront:certificateArn are set."
            )
        acknowledge(self.distribution, reasons)
