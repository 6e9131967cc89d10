"""Every setting, declared once: its variable, the ``Settings`` field it fills, its kind and what it does.

``Settings.from_env`` reads the environment by this table, ``Settings.to_env`` writes it (the CDK renders
the Lambda's environment with it) and ``vipsfront.config.reference`` generates ``docs/settings.md`` from
it. Defaults are the fields' own (``Settings``, ``UnsignedPolicy``, ``Limits``, ``Prices``): a row only
words one when its value reads poorly. Checks between settings stay in ``vipsfront.config.settings``.
"""

from __future__ import annotations

from dataclasses import dataclass

from vipsfront.config.cost import PRICES_AS_OF, PRICES_REGION
from vipsfront.config.kinds import (
    ARCHITECTURE,
    DIALECTS,
    FLAG,
    KEYS,
    NAMES,
    ORIGINS,
    PARAMS,
    PREFIXES,
    PRESETS,
    SIZES,
    TEXT,
    USD,
    Kind,
    integer,
    number,
)
from vipsfront.url.spec import MAX_SIDE

PREFIX = "VIPSFRONT_"
MAX_REQUEST_BUDGET_S = 900.0  # Lambda's longest timeout
FALLBACK_CAUSES = (404, 415, 422)  # what a fallback original may stand in for


def _parse_fallback_for(raw: str) -> tuple[int, ...]:
    parts = [part.strip() for part in raw.split(",")]
    if not all(part.isdigit() and int(part) in FALLBACK_CAUSES for part in parts):
        raise ValueError(f"must be a comma list of {', '.join(map(str, FALLBACK_CAUSES))}, not {raw!r}")
    return tuple(sorted({int(part) for part in parts}))


FALLBACK_STATUSES = Kind(
    _parse_fallback_for, lambda statuses: ",".join(map(str, statuses)), "comma list of 404, 415, 422"
)


@dataclass(frozen=True, slots=True)
class Variable:
    """One environment variable and the ``Settings`` field (a dotted path) it fills."""

    name: str  # the variable ``to_env`` writes and ``from_env`` reads
    path: str
    kind: Kind
    doc: str
    default: str = ""  # the default in words, when the field's rendered default reads poorly
    read: tuple[str, ...] = ()  # when other variables fill the field too: all of them, the first set wins
    written: bool = True  # False: set by the platform, never by ``to_env``

    @property
    def names(self) -> tuple[str, ...]:
        """The variables read for this field, in order of precedence."""
        return self.read or (self.name,)


@dataclass(frozen=True, slots=True)
class Section:
    """A heading of the settings reference and its variables."""

    title: str
    variables: tuple[Variable, ...]
    note: str = ""  # a sentence under the heading


SECTIONS = (
    Section(
        "Storage",
        (
            Variable("VIPSFRONT_ORIGINALS_BUCKET", "originals_bucket", TEXT, "bucket of originals (only read)"),
            Variable("VIPSFRONT_VARIANTS_BUCKET", "variants_bucket", TEXT, "bucket of stored variants"),
            Variable(
                "AWS_ENDPOINT_URL_S3",
                "s3_endpoint",
                TEXT,
                "the S3 endpoint, when not AWS's (standard AWS variables; credentials as usual)",
                read=("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"),
            ),
            Variable(
                "AWS_REGION",
                "region",
                TEXT,
                "the S3 region (Lambda sets it)",
                "the SDK's default",
                read=("AWS_REGION", "AWS_DEFAULT_REGION"),
                written=False,
            ),
        ),
    ),
    Section(
        "Signing and what is served unsigned",
        (
            Variable("VIPSFRONT_SIGNING_KEYS", "policy.keys", KEYS, "signing keys; without any, nothing is signed"),
            Variable("VIPSFRONT_PRESETS", "policy.presets", PRESETS, 'named parameters, `{"thumb": {"w": "200"}}`'),
            Variable(
                "VIPSFRONT_UNSIGNED_WIDTHS",
                "policy.unsigned.widths",
                SIZES,
                "widths allowed without a signature (after `dpr` is folded in)",
                "the breakpoint ladder",
            ),
            Variable("VIPSFRONT_UNSIGNED_HEIGHTS", "policy.unsigned.heights", SIZES, "the same for heights"),
            Variable(
                "VIPSFRONT_UNSIGNED_PARAMS",
                "policy.unsigned.params",
                PARAMS,
                'the other parameters allowed unsigned and their values, e.g. add `"q": ["60", "90"]`',
            ),
            Variable(
                "VIPSFRONT_UNSIGNED_FULL_SIZE",
                "policy.unsigned.full_size",
                FLAG,
                "`1`: a transform without `w` or `h` (a re-encode at full size) is allowed unsigned",
            ),
            Variable(
                "VIPSFRONT_UNSIGNED_ORIGINALS",
                "policy.unsigned.originals",
                FLAG,
                "`0`: parameter-less originals (as uploaded, metadata and all) only with a signature",
            ),
            Variable(
                "VIPSFRONT_UNSIGNED_INFO",
                "policy.unsigned.info",
                FLAG,
                "`0`: `/_vf/info/{key}` answers 403 while signing is on (it has no signed form)",
            ),
            Variable(
                "VIPSFRONT_UNSIGNED_MAX_SIDE",
                "policy.unsigned.max_side",
                integer(1, MAX_SIDE),
                "largest side allowed without a signature",
            ),
            Variable(
                "VIPSFRONT_UNSIGNED_PRESETS_ONLY",
                "policy.unsigned.presets_only",
                FLAG,
                "`1`: only presets (and originals) are served unsigned",
            ),
            Variable(
                "VIPSFRONT_KEY_PREFIXES",
                "policy.prefixes",
                PREFIXES,
                "folders whose keys are served; others answer 404, signed or not",
                "every key",
            ),
            Variable(
                "VIPSFRONT_DIALECTS",
                "dialects",
                DIALECTS,
                'other services\' URLs served as they are: `{"/": "imgix", "/thumbor/": "thumbor"}`, the longest '
                "prefix wins; a dialect's own signatures take a `secret` of their own",
                "every URL is native",
            ),
        ),
    ),
    Section(
        "Limits",
        (
            Variable(
                "VIPSFRONT_MAX_INPUT_PIXELS",
                "limits.max_input_pixels",
                integer(1),
                "largest original in pixels per frame and, for an animation, in all frames (from the header)",
            ),
            Variable(
                "VIPSFRONT_MAX_INPUT_BYTES",
                "limits.max_input_bytes",
                integer(1),
                "largest original in bytes (from the GET's `Content-Length`, before the body is read)",
            ),
            Variable(
                "VIPSFRONT_MAX_OUTPUT_SIDE", "limits.max_output_side", integer(1, MAX_SIDE), "largest output side"
            ),
            Variable("VIPSFRONT_MAX_FRAMES", "limits.max_frames", integer(1), "largest animation, in frames"),
            Variable("VIPSFRONT_ALLOW_SVG", "limits.allow_svg", FLAG, "read SVG originals"),
            Variable("VIPSFRONT_ALLOW_PDF", "limits.allow_pdf", FLAG, "read PDF originals"),
        ),
    ),
    Section(
        "Serving",
        (
            Variable(
                "VIPSFRONT_VARIANT_LOOKUP",
                "variant_lookup",
                FLAG,
                "look for a stored variant before transforming (`0` behind CloudFront's S3-first origin group,"
                " which looked; a request outside the canonical path form, which no group looked up, still is)",
            ),
            Variable(
                "VIPSFRONT_TRUST_PATH_FORM",
                "trust_path_form",
                FLAG,
                "skip the policy for the canonical path form (`1` only when the edge function checked it)",
            ),
            Variable(
                "VIPSFRONT_STORE_ORIGINALS",
                "store_originals",
                FLAG,
                "copy parameter-less requests into the variants bucket, so CloudFront's S3 origin serves them",
            ),
            Variable(
                "VIPSFRONT_CORS_ORIGINS",
                "cors_origins",
                ORIGINS,
                "origins whose CORS preflights (`OPTIONS`) are answered; without any, `OPTIONS` is a 405",
            ),
            Variable(
                "VIPSFRONT_PAYLOAD_LIMIT",
                "payload_limit",
                integer(4096),
                "bytes of a response (Lambda's limit, base64 body and headers); a larger variant is stored, "
                "then answered with a 307 to its canonical URL",
            ),
            Variable(
                "VIPSFRONT_REQUEST_BUDGET_S",
                "request_budget_s",
                number(MAX_REQUEST_BUDGET_S),
                "seconds one request may take (in Lambda, also bounded by the remaining time)",
            ),
            Variable(
                "VIPSFRONT_MAX_CONCURRENT_TRANSFORMS",
                "max_concurrent_transforms",
                integer(0, 1024),
                "transforms at once in the process; more wait (hits never do) up to their budget, then 503",
                "`0`: one per CPU core",
            ),
            Variable(
                "VIPSFRONT_CLIENT_HINTS",
                "client_hints",
                FLAG,
                "size unsigned transforms from `Sec-CH-Width` / `Sec-CH-DPR`",
            ),
            Variable(
                "VIPSFRONT_DEMO",
                "demo",
                FLAG,
                "serve the demo page at `/_vf/demo` (it lists the originals: local use only)",
                "`0` (`1` under `vipsfront serve`)",
            ),
            Variable(
                "VIPSFRONT_FALLBACK_KEY",
                "fallback_key",
                TEXT,
                "an original rendered with the request's parameters instead of a missing one (a placeholder "
                "instead of a broken image); the real cause is in `X-Vipsfront-Fallback`",
                "unset: errors are answered as errors",
            ),
            Variable(
                "VIPSFRONT_FALLBACK_FOR",
                "fallback_for",
                FALLBACK_STATUSES,
                "which answers the fallback replaces: `404` (no original), `415` (unsupported), `422` (broken)",
            ),
            Variable(
                "VIPSFRONT_FALLBACK_STATUS",
                "fallback_status",
                integer(200, 599),
                "the status a fallback is answered with (`404` keeps crawlers honest; `200` as imgproxy)",
            ),
            Variable(
                "VIPSFRONT_FALLBACK_MAX_AGE",
                "fallback_max_age",
                integer(0),
                "seconds browsers and CloudFront keep a fallback (`max-age`), so a fixed original shows soon",
            ),
        ),
    ),
    Section(
        "Caching and the life of an original",
        (
            Variable("VIPSFRONT_CACHE_CONTROL", "cache_control", TEXT, "`Cache-Control` of versioned images (`v=`)"),
            Variable(
                "VIPSFRONT_ERROR_CACHE_CONTROL",
                "error_cache_control",
                TEXT,
                "`Cache-Control` of 4xx answers (5xx are `no-store`)",
            ),
            Variable(
                "VIPSFRONT_BROWSER_MAX_AGE",
                "browser_max_age",
                integer(0),
                "seconds a browser keeps an unversioned image (`max-age`; no purge reaches it)",
            ),
            Variable(
                "VIPSFRONT_SHARED_MAX_AGE",
                "shared_max_age",
                integer(0),
                "seconds CloudFront keeps an unversioned image (`s-maxage`); at most the variants' expiry",
                "`604800` (a week), at most the expiry",
            ),
            Variable(
                "VIPSFRONT_VARIANTS_EXPIRY_DAYS",
                "variants_expiry_days",
                integer(1),
                "the variants bucket's expiry (the stack sets the bucket's lifecycle rule from it)",
            ),
            Variable(
                "VIPSFRONT_DISTRIBUTION_ID",
                "distribution_id",
                TEXT,
                "the CloudFront distribution the lifecycle and `vipsfront purge` invalidate "
                "(unset: variants are deleted only)",
            ),
            Variable(
                "VIPSFRONT_EAGER_PRESETS",
                "eager_presets",
                NAMES,
                "presets made at ingest, in each format `fm=auto` can resolve to",
            ),
            Variable(
                "VIPSFRONT_METADATA_GPS",
                "metadata_gps",
                FLAG,
                "`1`: keep GPS in info documents and manifests (personal data: opt in)",
            ),
            Variable(
                "VIPSFRONT_METADATA_PERSONAL",
                "metadata_personal",
                FLAG,
                "`1`: keep artist, copyright, owner and serial numbers in info documents",
            ),
            Variable(
                "VIPSFRONT_INVALIDATION_WILDCARD_ABOVE",
                "invalidation_wildcard_above",
                integer(0),
                "an original with more stored variants than this is invalidated with one wildcard path",
            ),
        ),
    ),
    Section(
        "The function's shape and prices (the `EstimatedCostUSD` metric, libvips' threads)",
        (
            Variable(
                "VIPSFRONT_LAMBDA_MEMORY_MB",
                "memory_mb",
                integer(128, 10_240),
                "the function's memory, MB (Lambda's own `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` wins)",
                "unset (the cost model takes `1024`)",
                read=("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "VIPSFRONT_LAMBDA_MEMORY_MB"),
            ),
            Variable("VIPSFRONT_LAMBDA_ARCH", "architecture", ARCHITECTURE, "the function's architecture"),
            Variable(
                "VIPS_CONCURRENCY",
                "vips_concurrency",
                integer(1, 1024),
                "libvips worker threads (libvips reads it itself)",
                "in Lambda one per vCPU the memory buys, else libvips' default",
            ),
            Variable(
                "VIPSFRONT_PRICE_LAMBDA_GB_S_ARM64", "prices.lambda_gb_s_arm64", USD, "Lambda, per GB-second, arm64"
            ),
            Variable(
                "VIPSFRONT_PRICE_LAMBDA_GB_S_X86_64",
                "prices.lambda_gb_s_x86_64",
                USD,
                "Lambda, per GB-second, x86_64",
            ),
            Variable(
                "VIPSFRONT_PRICE_LAMBDA_REQUESTS_PER_MILLION",
                "prices.lambda_requests_per_million",
                USD,
                "Lambda, per million requests",
            ),
            Variable(
                "VIPSFRONT_PRICE_S3_GET_PER_1000",
                "prices.s3_get_per_1000",
                USD,
                "S3 Standard, per 1,000 GET and HEAD requests",
            ),
            Variable(
                "VIPSFRONT_PRICE_S3_PUT_PER_1000", "prices.s3_put_per_1000", USD, "S3 Standard, per 1,000 PUT requests"
            ),
            Variable(
                "VIPSFRONT_PRICE_EGRESS_PER_GB",
                "prices.egress_per_gb",
                USD,
                "CloudFront data transfer out, per GB (first 10 TB a month)",
            ),
        ),
        f"Prices default to public on-demand list prices in {PRICES_REGION} as of {PRICES_AS_OF}"
        " (`vipsfront.config.cost`).",
    ),
)

VARIABLES = tuple(variable for section in SECTIONS for variable in section.variables)
