"""The CDK app: one vipsfront stack, checked by cdk-nag. Options: ``-c vipsfront:<name>=<value>``."""

import os
import sys

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")

import aws_cdk as cdk  # noqa: E402
from cdk_nag import AwsSolutionsChecks  # noqa: E402

from vipsfront_cdk import Settings, VipsfrontStack  # noqa: E402

app = cdk.App()
try:
    settings = Settings.from_context(app.node)
except ValueError as error:  # a bad -c value: its context key and the rule, not a traceback
    sys.exit(f"error: {error}")
VipsfrontStack(app, app.node.try_get_context("vipsfront:stackName") or "Vipsfront", settings=settings)
cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
app.synth()
