"""Stacks synthesized once per session for the operations and template-lint tests (``bundle=False``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "cdk"))

ACL_ARN = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/team/0123abcd-0123-4567-89ab-0123456789ab"
CERT_ARN = "arn:aws:acm:us-east-1:123456789012:certificate/0123abcd-0123-4567-89ab-0123456789ab"

# Every operations option on: a new web ACL, a domain, standard logs, e-mail alarms, no CORS.
OPERATIONS = {
    "waf_rate_limit": 1000,
    "domain_names": ("img.example.com",),
    "certificate_arn": CERT_ARN,
    "access_logs": True,
    "access_logs_expire_days": 60,
    "alarm_email": "ops@example.com",
    "cors_origins": (),
    "backfill_max_concurrency": 8,
    "backfill_batch_size": 5,
    "backfill_tolerated_failure_percent": 10,
}
# An existing web ACL and originals bucket, no lifecycle, no additional CloudFront metrics.
MINIMAL = {
    "web_acl_arn": ACL_ARN,
    "originals_bucket": "team-photos",
    "lifecycle": False,
    "cdn_additional_metrics": False,
    "reserved_concurrency": None,
}


def synth_stack(nag: bool = False, **options: Any) -> Any:
    """A synthesized ``VipsfrontStack``; with ``nag``, synth raises on an unacknowledged cdk-nag finding."""
    aws_cdk = pytest.importorskip("aws_cdk")
    cdk_nag = pytest.importorskip("cdk_nag")
    from vipsfront_cdk import Settings, VipsfrontStack

    app = aws_cdk.App()
    stack = VipsfrontStack(app, "Vipsfront", settings=Settings(bundle=False, **options))
    if nag:
        aws_cdk.Validations.of(app).add_plugins(cdk_nag.AwsSolutionsChecks(app))
    app.synth()
    return stack


@pytest.fixture(scope="session")
def default_stack() -> Any:
    return synth_stack(nag=True)


@pytest.fixture(scope="session")
def operations_stack() -> Any:
    return synth_stack(nag=True, **OPERATIONS)


@pytest.fixture(scope="session")
def minimal_stack() -> Any:
    return synth_stack(nag=True, **MINIMAL)
