"""CloudFront: the viewer-request function in front of an S3-first origin group that falls back to the function."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_s3 as s3
from constructs import Construct

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


class Distribution(Construct):
    """``distribution``: one default behaviour; every equivalent URL shares one cache key (the URI)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        variants: s3.IBucket,
        function_url: lambda_.IFunctionUrl,
        viewer_request: cloudfront.IFunction,
        read_timeout_seconds: int = 30,
        price_class: str = "100",
        origin_shield_region: str | None = None,
        cors_origins: tuple[str, ...] = ("*",),
        error_ttl_seconds: int = 10,
    ) -> None:
        super().__init__(scope, construct_id)
        origin = self._build_origin_group(variants, function_url, read_timeout_seconds, origin_shield_region)
        self.cache_policy = self._build_cache_policy()
        self.origin_request_policy = self._build_origin_request_policy()
        self.response_headers_policy = self._build_response_headers_policy(cors_origins)
        self.distribution = self._build_distribution(origin, viewer_request, price_class, error_ttl_seconds)
        self._suppress()

    def _build_origin_group(
        self,
        variants: s3.IBucket,
        function_url: lambda_.IFunctionUrl,
        read_timeout_seconds: int,
        origin_shield_region: str | None,
    ) -> origins.OriginGroup:
        shield = {"origin_shield_region": origin_shield_region} if origin_shield_region else {}
        # with_origin_access_control also grants cloudfront.amazonaws.com, for this distribution only, both
        # lambda:InvokeFunctionUrl and lambda:InvokeFunction (InvokedViaFunctionUrl), as newer URLs need.
        stored = origins.S3BucketOrigin.with_origin_access_control(variants, **shield)
        transform = origins.FunctionUrlOrigin.with_origin_access_control(
            function_url,
            read_timeout=Duration.seconds(read_timeout_seconds),
            connection_attempts=1,  # a transform is expensive: never run it twice for one request
            **shield,
        )
        return origins.OriginGroup(
            primary_origin=stored,
            fallback_origin=transform,
            fallback_status_codes=FAILOVER_STATUS_CODES,
        )

    def _build_cache_policy(self) -> cloudfront.CachePolicy:
        # The edge function has already folded query, Accept and dpr into the URI.
        return cloudfront.CachePolicy(
            self,
            "UriOnly",
            comment="vipsfront: the cache key is the rewritten URI alone",
            query_string_behavior=cloudfront.CacheQueryStringBehavior.none(),
            header_behavior=cloudfront.CacheHeaderBehavior.none(),
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
                content_security_policy=cloudfront.ResponseHeadersContentSecurityPolicy(
                    content_security_policy="default-src 'none'; img-src 'self'; style-src 'unsafe-inline'",
                    override=False,
                ),
            ),
        )

    def _build_distribution(
        self,
        origin: origins.OriginGroup,
        viewer_request: cloudfront.IFunction,
        price_class: str,
        error_ttl_seconds: int,
    ) -> cloudfront.Distribution:
        return cloudfront.Distribution(
            self,
            "Distribution",
            comment="vipsfront image transforms",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origin,
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                allowed_methods=cloudfront.AllowedMethods.ALLOW_GET_HEAD_OPTIONS,
                cached_methods=cloudfront.CachedMethods.CACHE_GET_HEAD_OPTIONS,
                cache_policy=self.cache_policy,
                origin_request_policy=self.origin_request_policy,
                response_headers_policy=self.response_headers_policy,
                compress=False,  # images are compressed already
                function_associations=[
                    cloudfront.FunctionAssociation(
                        function=viewer_request, event_type=cloudfront.FunctionEventType.VIEWER_REQUEST
                    )
                ],
            ),
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=PRICE_CLASSES[price_class],
            # Short, so a fixed original or a transient fault is not served from cache for long.
            error_responses=[
                cloudfront.ErrorResponse(http_status=code, ttl=Duration.seconds(error_ttl_seconds))
                for code in ERROR_STATUS_CODES
            ],
        )

    def _suppress(self) -> None:
        acknowledge(
            self.distribution,
            {
                "AwsSolutions-CFR1": "Images are public content; a team that must restrict countries adds it.",
                "AwsSolutions-CFR2": "Cost abuse is bounded by the edge function (signatures; unsigned only for "
                "breakpoint widths and presets; size caps) and the optional reserved concurrency; a WAF web "
                "ACL can be attached by teams that need rate limiting.",
                "AwsSolutions-CFR3": "Standard logs need an ACL-enabled bucket and cost per request; the "
                "function's metrics and CloudFront's own metrics cover operations. Enable them per team.",
                "AwsSolutions-CFR4": "The default *.cloudfront.net certificate does not allow choosing the TLS "
                "policy; TLSv1.2_2021 applies as soon as a custom domain and certificate are set.",
            },
        )
