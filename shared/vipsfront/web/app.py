"""The FastAPI origin: HTTP in, ``edge.route`` → ``Origin.serve`` → HTTP out.

``GET``/``HEAD /{key}?{params}`` (what a browser sends) and ``/{key}/_vf/{canonical}`` (what CloudFront
forwards after its viewer-request rewrite) reach the same code. Errors are the domain's typed errors,
rendered once as JSON; nothing internal reaches a client.

``create_app`` makes the one FastAPI app that the Lambda (through Mangum), the tests and ``vipsfront serve``
(uvicorn's factory, each worker one) all run.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Mapping
from dataclasses import replace
from http import HTTPStatus
from urllib.parse import quote

from fastapi import FastAPI
from starlette.convertors import Convertor, register_url_convertor
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response

from vipsfront import __version__
from vipsfront.config.settings import Settings
from vipsfront.errors import VipsfrontError
from vipsfront.origin.gate import TransformGate
from vipsfront.origin.serving import Origin
from vipsfront.stores.base import ImageStore
from vipsfront.stores.s3 import S3Store, run_by, s3_client
from vipsfront.telemetry import Observer, Outcome, RequestRecord, ignore
from vipsfront.url.grammar import SIGNATURE_PATTERN
from vipsfront.url.keys import parse_info_path
from vipsfront.url.route import Hints, Route, route, with_version

log = logging.getLogger(__name__)

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'; sandbox",
}
LAMBDA_SAFETY_S = 1.0  # leave this much of the Lambda's remaining time for writing the response
SIGNATURE_HEADER, EXPIRES_HEADER = "x-vipsfront-signature", "x-vipsfront-expires"  # set by the edge function
NO_STORE = {"cache-control": "no-store"}  # health, the OpenAPI document: never cached by the CDN
HEALTH_PATH = "/_vf/health"
# Mangum's Function URL answer around the headers and the base64 body: {"statusCode": 200, "headers": ...,
# "body": "...", "isBase64Encoded": true, "cookies": null}, with room to spare
LAMBDA_ENVELOPE_BYTES = 512
CORS_METHODS = "GET, HEAD"
DEMO_PATH = "/_vf/demo"
CORS_MAX_AGE_S = 86400
MOVED_MAX_AGE_S = 60  # how long browsers and CloudFront keep the redirect from an old version to the current


class AnyPathConvertor(Convertor[str]):
    """Starlette's ``path`` (``.*``) skips paths holding a newline; these must reach the key check (400)."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("anypath", AnyPathConvertor())


def etag_of(data: bytes) -> str:
    """A miss's ETag: the MD5 S3 gives a single-part PUT, so the hit of the same variant, which answers
    S3's stored ETag without reading the bytes twice, has the same one (unless the bucket uses SSE-KMS)."""
    return '"' + hashlib.md5(data, usedforsecurity=False).hexdigest() + '"'


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


def _server_timing(timings: dict[str, float], notes: dict[str, str] | None = None) -> str:
    """``name;dur=ms`` entries, with ``;desc="..."`` where a note says more (``faces``: where the face boxes
    came from, or that the crop fell back to ``attention``)."""
    notes = notes or {}
    return ", ".join(
        f'{name};dur={ms:.1f};desc="{notes[name]}"' if notes.get(name) else f"{name};dur={ms:.1f}"
        for name, ms in timings.items()
    )


def _raw_path(request: Request) -> str:
    raw = request.scope.get("raw_path")
    if raw:
        return bytes(raw).decode("latin-1")
    return quote(request.scope["path"], safe="/")


def _deadline(request: Request, budget_s: float) -> float:
    deadline = time.monotonic() + budget_s
    context = request.scope.get("aws.context")
    remaining = getattr(context, "get_remaining_time_in_millis", None)
    if remaining is not None:
        deadline = min(deadline, time.monotonic() + remaining() / 1000 - LAMBDA_SAFETY_S)
    return deadline


def _signed_as_viewer(routed: Route, request: Request, settings: Settings) -> Route:
    """``routed`` with the viewer's signature: behind CloudFront the edge function strips ``s``/``exp`` from
    the rewritten request and passes them in headers instead, so a redirect's target, which the viewer
    requests through the edge again, must carry them."""
    if routed.signature is None and settings.trust_path_form:
        signature = request.headers.get(SIGNATURE_HEADER)
        expires = request.headers.get(EXPIRES_HEADER)
        if signature and SIGNATURE_PATTERN.fullmatch(signature) and (expires is None or expires.isdigit()):
            routed = replace(routed, signature=signature, expires=int(expires) if expires else None)
    return routed


def _moved(routed: Route, version: str, request: Request, settings: Settings, record: RequestRecord) -> Response:
    """A request for an old (or made-up) version of an original: a 302 to the same request at ``version``.

    Cached briefly (``MOVED_MAX_AGE_S``) so a page cached before the change shows the new image in one hop;
    a signed one privately only, since CloudFront's cache key leaves the signature out."""
    signed = _signed_as_viewer(routed, request, settings)
    query = request.scope.get("query_string", b"").decode("latin-1")
    location = with_version(_raw_path(request), query, signed, version, settings.policy.keys)
    scope = "private" if signed.signature is not None else "public"
    record.status = 302
    return JSONResponse(
        {"location": location, "version": version},
        status_code=302,
        headers={"location": location, "cache-control": f"{scope}, max-age={MOVED_MAX_AGE_S}", **SECURITY_HEADERS},
    )


def lambda_response_bytes(body_bytes: int, headers: Mapping[str, str]) -> int:
    """The size of the Lambda response carrying ``body_bytes`` (base64: 4 characters per 3 bytes) and
    ``headers``, as Mangum serializes it: what Lambda's 6 MB response limit counts."""
    return 4 * math.ceil(body_bytes / 3) + len(json.dumps(dict(headers))) + LAMBDA_ENVELOPE_BYTES


def cors_headers(origin: str | None, allowed: tuple[str, ...]) -> dict[str, str] | None:
    """``Access-Control-Allow-*`` for a request from ``origin``, or ``None`` when it is not allowed."""
    if "*" in allowed:
        return {"access-control-allow-origin": "*"}
    if origin is not None and origin in allowed:
        return {"access-control-allow-origin": origin, "vary": "Origin"}
    return None


def error_response(error: VipsfrontError, settings: Settings) -> JSONResponse:
    client_error = error.status < 500
    cache_control = settings.error_cache_control if client_error else "no-store"
    return JSONResponse(error.to_dict(), status_code=error.status, headers={"cache-control": cache_control})


async def internal_error(request: Request, error: Exception) -> JSONResponse:
    """Any error no other handler answered: logged, a 500 with a JSON body and nothing internal."""
    log.exception("unexpected error on %s", request.url.path)
    return JSONResponse(
        {"error": "internal error", "code": "internal_error", "param": None},
        status_code=500,
        headers={"cache-control": "no-store"},
    )


class ImageRequests:
    """``GET``/``HEAD /{key}?{params}`` (every hit and miss), answered by calling it with the request; its
    errors are answered here as JSON. Needs Starlette only, not FastAPI."""

    def __init__(self, settings: Settings, store: ImageStore, observe: Observer, gate: TransformGate) -> None:
        self.settings = settings
        self.store = store
        self.observe = observe
        self.gate = gate

    async def __call__(self, request: Request) -> Response:
        started = time.perf_counter()
        record = RequestRecord()
        settings = self.settings
        try:
            response = await self._image(request, record, started)
        except VipsfrontError as error:
            record.status, record.error_code, record.outcome = int(error.status), error.code, Outcome.ERROR
            if error.status >= 500:
                log.warning("%s on %s: %s", error.code, record.key, error.message, exc_info=error)
            else:
                log.info("%s on %s: %s", error.code, record.key, error.message)
            response = error_response(error, settings)
        record.timings["total"] = (time.perf_counter() - started) * 1000
        try:
            self.observe(record)
        except Exception:
            log.exception("observer failed")
        return response

    async def _image(self, request: Request, record: RequestRecord, started: float) -> Response:
        settings = self.settings
        routed = route(
            _raw_path(request),
            request.scope.get("query_string", b"").decode("latin-1"),
            request.headers.get("accept"),
            settings.policy,
            now=time.time(),
            trust_path_form=settings.trust_path_form,
            hints=Hints.from_headers(request.headers) if settings.client_hints else None,
            dialects=settings.dialects,
        )
        origin = Origin(settings, self.store, self.gate)
        deadline = _deadline(request, settings.request_budget_s)
        # one hand-off for the whole request; its S3 calls run in that thread, bounded by the deadline
        served = await run_by(deadline, lambda: origin.serve(routed, record, deadline=deadline))
        if served.outcome is Outcome.MOVED and served.version is not None:
            return _moved(routed, served.version, request, settings, record)
        etag = served.etag or etag_of(served.data)
        record.timings["total"] = (time.perf_counter() - started) * 1000
        headers = {
            # behind CloudFront, a request not in the canonical path form is cached under its own URL, which
            # the lifecycle's invalidations do not name (a dialect prefix served by the origin alone)
            "cache-control": settings.cache_control_for(
                versioned=routed.spec.v is not None, purged=routed.path_form or not settings.trust_path_form
            ),
            "etag": etag,
            "x-vipsfront-variant": "hit" if served.outcome is Outcome.HIT else "miss",
            "server-timing": _server_timing(record.timings, record.notes),
            **SECURITY_HEADERS,
        }
        vary = (("Accept",) if routed.vary_accept else ()) + routed.vary_hints
        cors = cors_headers(request.headers.get("origin"), settings.cors_origins) if settings.cors_origins else None
        if cors:
            vary += (cors.pop("vary"),) if "vary" in cors else ()
            headers.update(cors)
        if vary:
            headers["vary"] = ", ".join(vary)
        if _matches(request.headers.get("if-none-match"), etag):
            record.status, record.outcome = 304, Outcome.NOT_MODIFIED
            return Response(status_code=304, headers=headers)
        headers["content-type"] = served.media_type
        headers["content-length"] = str(len(served.data))
        if served.outcome is Outcome.MISS and lambda_response_bytes(len(served.data), headers) > settings.payload_limit:
            # Too big for a Lambda response (base64 and headers counted): it is stored, so the canonical
            # URL serves it from S3 (a hit: behind CloudFront the S3 origin, locally this app).
            location = _signed_as_viewer(routed, request, settings).location
            record.status = 307
            return JSONResponse(
                {"location": location, "bytes": len(served.data)},
                status_code=307,
                headers={"location": location, "cache-control": "no-store"},
            )
        record.status = served.status
        body = b"" if request.method == "HEAD" else served.data
        return Response(body, status_code=served.status, headers={**headers, **served.headers})


def create_app(
    settings: Settings | None = None,
    store: ImageStore | None = None,
    observer: Observer | None = None,
    gate: TransformGate | None = None,
) -> FastAPI:
    """The origin app. With no arguments (uvicorn's factory, the Lambda handler) settings come from the
    environment, S3 from botocore and the transform gate from the settings."""
    settings = settings or Settings.load()
    if store is None:
        client = s3_client(settings.s3_endpoint, settings.region)
        store = S3Store(client, settings.originals_bucket, settings.variants_bucket)
    gate = gate or TransformGate.for_settings(settings)
    images = ImageRequests(settings, store, observer or ignore, gate)
    app = FastAPI(title="vipsfront", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.settings = settings
    app.state.store = store
    app.state.transform_gate = gate

    @app.exception_handler(VipsfrontError)
    async def vipsfront_error(request: Request, error: VipsfrontError) -> JSONResponse:
        return error_response(error, settings)

    allowed_methods = "GET, HEAD, OPTIONS" if settings.cors_origins else "GET, HEAD"  # on every path

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException) -> JSONResponse:
        headers = {"cache-control": settings.error_cache_control, **(error.headers or {})}
        detail = str(error.detail)
        if error.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
            # Starlette's Allow names the routes whose path matched (OPTIONS alone, for an image path)
            headers = {name: value for name, value in headers.items() if name.lower() != "allow"}
            headers["allow"] = allowed_methods
            detail = f"{request.method} is not allowed: use {allowed_methods.replace(', ', ' or ')}"
        return JSONResponse(
            {"error": detail, "code": HTTPStatus(error.status_code).phrase.lower().replace(" ", "_"), "param": None},
            status_code=error.status_code,
            headers=headers,
        )

    app.add_exception_handler(Exception, internal_error)

    # GET in the OpenAPI document, HEAD beside it (one operation id each)
    @app.get(HEALTH_PATH)
    @app.head(HEALTH_PATH, include_in_schema=False)
    async def health() -> JSONResponse:
        return JSONResponse({"status": "ok", "version": __version__}, headers=NO_STORE)

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def index(request: Request) -> Response:
        """The root holds no image: a browser goes to the demo page (when on), a client gets the endpoints."""
        if settings.demo and "text/html" in request.headers.get("accept", ""):
            return RedirectResponse(DEMO_PATH, status_code=302, headers={**NO_STORE, "vary": "Accept"})
        endpoints = {
            "image": "/{key}?w=&h=&fit=&fm=... (docs/url-api.md)",
            "info": "/_vf/info/{key}",
            "health": HEALTH_PATH,
            "openapi": "/_vf/openapi.json",
            **({"demo": DEMO_PATH} if settings.demo else {}),
        }
        body = {"service": "vipsfront", "version": __version__, "endpoints": endpoints}
        return JSONResponse(body, headers={**NO_STORE, "vary": "Accept"})

    @app.api_route("/_vf/openapi.json", methods=["GET", "HEAD"], include_in_schema=False)
    async def openapi() -> JSONResponse:
        return JSONResponse(app.openapi(), headers=NO_STORE)

    @app.options("/{path:anypath}", include_in_schema=False)
    async def preflight(request: Request) -> Response:
        """CORS preflights from ``VIPSFRONT_CORS_ORIGINS`` (GET and HEAD only); no other use of OPTIONS."""
        if not settings.cors_origins:
            body = {"error": "OPTIONS is answered only with VIPSFRONT_CORS_ORIGINS set", "code": "method_not_allowed"}
            headers = {"allow": CORS_METHODS, "cache-control": settings.error_cache_control}
            return JSONResponse({**body, "param": None}, status_code=405, headers=headers)
        allowed = cors_headers(request.headers.get("origin"), settings.cors_origins)
        method = request.headers.get("access-control-request-method", "")
        if allowed is None or method not in ("GET", "HEAD"):
            body = {"error": "CORS preflight refused: origin or method not allowed", "code": "forbidden"}
            return JSONResponse(
                {**body, "param": None},
                status_code=403,
                headers={"vary": "Origin", "cache-control": settings.error_cache_control},
            )
        headers = {
            **allowed,
            "access-control-allow-methods": CORS_METHODS,
            "access-control-max-age": str(CORS_MAX_AGE_S),
            "cache-control": f"public, max-age={CORS_MAX_AGE_S}",
        }
        return Response(status_code=204, headers=headers)

    async def describe(request: Request) -> JSONResponse:
        """The info document of the key an info path names (``keys.parse_info_path``)."""
        key = parse_info_path(_raw_path(request))
        origin = Origin(settings, store, gate)
        deadline = _deadline(request, settings.request_budget_s)
        settings.policy.authorize_info(key)
        body, outcome = await run_by(deadline, lambda: origin.describe(key, deadline=deadline))
        headers = {"cache-control": "public, max-age=300", "x-vipsfront-variant": outcome.value}
        return JSONResponse(body, headers=headers)

    @app.get("/_vf/info/{key:anypath}")
    @app.head("/_vf/info/{key:anypath}", include_in_schema=False)
    async def info(request: Request, key: str) -> JSONResponse:
        """``key`` percent-encoded, as a viewer sends it; behind CloudFront the ``/_vf/info/*`` behaviour's
        function rewrites it to ``/{origin form of key}/_vf/info`` (``keys.info_path``), answered below."""
        return await describe(request)

    @app.api_route("/{origin:anypath}/_vf/info", methods=["GET", "HEAD"], include_in_schema=False)
    async def info_at_origin_form(request: Request) -> JSONResponse:
        return await describe(request)

    if settings.demo:
        from vipsfront.web.demo import router as demo_router

        app.include_router(demo_router)

    @app.get("/{path:anypath}")
    @app.head("/{path:anypath}", include_in_schema=False)
    async def image(request: Request) -> Response:
        return await images(request)

    return app
