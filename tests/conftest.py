"""Fixtures shared by every ring: the team corpus and S3 on moto (generated images: ``tests/helpers.py``)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
sys.path.insert(0, str(ROOT / "tests"))  # `import helpers` from every ring (tests/helpers.py)

# Tests never reach a real AWS account: fake credentials, one region, no X-Ray daemon.
os.environ.update(
    {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SECURITY_TOKEN": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }
)
for _name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
    os.environ.pop(_name, None)


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The team's image corpus (``../shared/corpus``); tests that need it skip without it."""
    if not (CORPUS / "photos").is_dir():
        pytest.skip(f"the image corpus is not at {CORPUS.relative_to(ROOT.parent)} (see README, Tests)")
    return CORPUS


@pytest.fixture
def s3() -> Iterator[Any]:
    """A boto3 S3 client on moto's in-process S3, with the two default buckets created."""
    from moto import mock_aws

    from vipsfront.stores.s3 import s3_client

    with mock_aws():
        client = s3_client(region="us-east-1")
        for bucket in ("vipsfront-originals", "vipsfront-variants"):
            client.create_bucket(Bucket=bucket)
        yield client
