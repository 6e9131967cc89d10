"""The transform Lambda: the origin app behind a Function URL, through Mangum, with Powertools.

Everything is built once per execution environment, at import (the cold start): settings from the
environment, the S3 client, the app and the cost model. Each invocation then logs with the request's
correlation id, is traced, and flushes its metrics as one CloudWatch EMF document on stdout.
"""

from __future__ import annotations

import math
import os
from dataclasses import replace
from typing import Any, cast

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext
from mangum import Mangum

from vipsfront.app import create_app
from vipsfront.config import DEFAULT_LAMBDA_MEMORY_MB, Settings
from vipsfront.observability import logger, metrics, metrics_observer, tracer

LAMBDA_MB_PER_VCPU = 1769  # Lambda allots one vCPU's worth of CPU per 1,769 MB of memory
LAMBDA_MAX_VCPUS = 6


def vips_threads(memory: int, cpu_count: int | None) -> int:
    """libvips worker threads for one image per invocation: the vCPUs this memory size buys."""
    vcpus = min(LAMBDA_MAX_VCPUS, math.ceil(memory / LAMBDA_MB_PER_VCPU))
    return max(1, min(vcpus, cpu_count or 1))


def lambda_settings(settings: Settings, cpu_count: int | None) -> Settings:
    """``settings`` with libvips threads sized to the function's vCPUs.

    An explicit thread count wins: ``VIPS_CONCURRENCY`` (libvips reads it itself) or one in the limits.
    """
    if settings.limits.threads > 0 or settings.vips_concurrency:
        return settings
    threads = vips_threads(settings.memory_mb or DEFAULT_LAMBDA_MEMORY_MB, cpu_count)
    return replace(settings, limits=replace(settings.limits, threads=threads))


def build(settings: Settings) -> Mangum:
    """The Mangum adapter around the app, wired to meter every request."""
    settings = lambda_settings(settings, os.cpu_count())
    app = create_app(settings, observer=metrics_observer(settings.cost_model()))
    return Mangum(app, lifespan="off")


asgi = build(Settings.load())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.LAMBDA_FUNCTION_URL)
@tracer.capture_lambda_handler(capture_response=False)
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    # Powertools' and Mangum's LambdaContext types describe the same runtime object.
    return asgi(event, cast(Any, context))
