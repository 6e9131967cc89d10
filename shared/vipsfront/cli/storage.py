"""Which S3 the lifecycle commands act on, checked before they change anything.

With an S3 configured (``local_serve.S3_VARIABLES``) they use it; otherwise the running local
``vipsfront serve`` (its state file); otherwise botocore's own chain (``~/.aws``, an instance role).
``check_buckets`` then makes sure both buckets answer, so a missing credential or bucket is one line
naming it, not a per-key failure.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from vipsfront.cli import local_serve
from vipsfront.config.settings import ConfigError, Settings

NO_S3 = (
    "start `vipsfront serve` in another shell (the commands find its embedded S3), or configure an S3: "
    "AWS credentials with VIPSFRONT_ORIGINALS_BUCKET and VIPSFRONT_VARIANTS_BUCKET"
)


def use_local_serve(serve_port: int | None) -> local_serve.LocalServe | None:
    """Point this process (and the workers it starts) at the local serve's S3 when none is configured."""
    if local_serve.configures_s3(os.environ):
        if serve_port is not None:
            raise ConfigError("--serve-port: an S3 is configured in the environment; unset it to use a local serve")
        return None
    serve = local_serve.find(os.environ, serve_port)
    if serve is not None:
        os.environ.update(serve.environment())
    return serve


def check_buckets(client: Any, settings: Settings) -> None:
    """``ConfigError`` naming what is wrong unless both buckets answer (credentials, endpoint, names)."""
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError, PartialCredentialsError

    from vipsfront.stores.s3 import NO_CREDENTIALS

    where = settings.s3_endpoint or "AWS"
    for variable, bucket in (
        ("VIPSFRONT_ORIGINALS_BUCKET", settings.originals_bucket),
        ("VIPSFRONT_VARIANTS_BUCKET", settings.variants_bucket),
    ):
        try:
            client.head_bucket(Bucket=bucket)
        except NoCredentialsError:
            raise ConfigError(f"{NO_CREDENTIALS}; or start `vipsfront serve` and use its embedded S3") from None
        except PartialCredentialsError as error:
            raise ConfigError(f"incomplete AWS credentials: {error.kwargs.get('cred_var')} is not set") from None
        except ClientError as error:
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            code = str(error.response.get("Error", {}).get("Code", "")) or str(status)
            if status == 404:
                raise ConfigError(f"bucket {bucket!r} ({variable}) does not exist at {where}") from None
            if status == 403:
                raise ConfigError(f"bucket {bucket!r} ({variable}): access denied to these AWS credentials") from None
            raise ConfigError(f"bucket {bucket!r} ({variable}): S3 at {where} answered {code}") from None
        except BotoCoreError as error:
            raise ConfigError(f"S3 at {where} cannot be reached ({error}): {NO_S3}") from None


def lifecycle_settings(serve_port: int | None, distribution_id: str | None = None) -> tuple[Settings, Any]:
    """The settings and an S3 client for a lifecycle command, both buckets checked."""
    from vipsfront.stores.s3 import s3_client

    use_local_serve(serve_port)
    settings = Settings.load()
    if distribution_id:
        settings = replace(settings, distribution_id=distribution_id)
    client = s3_client(settings.s3_endpoint, settings.region)
    check_buckets(client, settings)
    return settings, client
