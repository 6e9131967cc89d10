"""The transform Lambda: the origin app behind a Function URL, through Mangum, with Powertools.

The import (the Lambda's init) reads and checks the settings, so a bad deployment fails there, and
makes the logger and metrics; it imports neither the web framework, the S3 client, the X-Ray SDK nor
the image engine. The first invocation builds the rest once per execution environment: the app with
its S3 client, Mangum and the tracer (``_asgi``, ``_traced``). Each invocation then logs with the
request's correlation id, is traced, and flushes its metrics as one CloudWatch EMF document on stdout.
A miss's variant is stored before the invocation returns (Lambda freezes the environment once it has).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import replace
from functools import cache
from typing import TYPE_CHECKING, Any, cast

from aws_lambda_powertools.logging import correlation_paths

from vipsfront.config.settings import DEFAULT_LAMBDA_MEMORY_MB, Settings
from vipsfront.observability import logger, metrics, metrics_observer, tracer

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext
    from mangum import Mangum

LAMBDA_MB_PER_VCPU = 1769  # Lambda allots one vCPU's worth of CPU per 1,769 MB of memory
LAMBDA_MAX_VCPUS = 6


def vips_threads(memory: int, cpu_count: int | None) -> int:
    """libvips worker threads for one image per invocation: the vCPUs this memory size buys."""
    vcpus = min(LAMBDA_MAX_VCPUS, math.ceil(memory / LAMBDA_MB_PER_VCPU))
    return max(1, min(vcpus, cpu_count or 1))


def lambda_settings(settings: Settings, cpu_count: int | None) -> Settings:
    """``settings`` as Lambda runs them: libvips threads sized to the function's vCPUs.

    An explicit thread count wins: ``VIPS_CONCURRENCY`` (libvips reads it itself) or one in the limits.
    """
    if settings.limits.threads > 0 or settings.vips_concurrency:
        return settings
    threads = vips_threads(settings.memory_mb or DEFAULT_LAMBDA_MEMORY_MB, cpu_count)
    return replace(settings, limits=replace(settings.limits, threads=threads))


def build(settings: Settings) -> Mangum:
    """The Mangum adapter around the app, wired to meter every request."""
    from mangum import Mangum

    from vipsfront.web.app import create_app

    settings = lambda_settings(settings, os.cpu_count())
    app = create_app(settings, observer=metrics_observer(settings.cost_model()))
    return Mangum(app, lifespan="off")


settings = Settings.load()  # at init: a bad setting fails the deployment's first start, not a request


@cache
def _asgi() -> Mangum:
    """The app, built by the first invocation and kept for the environment's life."""
    return build(settings)


@cache
def _traced() -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The app's invocation under the tracer (made on first use: it imports the X-Ray SDK)."""

    @tracer().capture_lambda_handler(capture_response=False)
    def invoke(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return cast(dict[str, Any], _asgi()(event, context))

    return invoke


@logger.inject_lambda_context(correlation_id_path=correlation_paths.LAMBDA_FUNCTION_URL)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Powertools' and Mangum's LambdaContext types describe the same runtime object.
    return _traced()(event, cast(Any, context))
