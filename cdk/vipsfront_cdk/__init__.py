"""vipsfront's CDK constructs: import ``VipsfrontStack`` or the constructs into your own CDK app."""

from vipsfront_cdk.buckets import Buckets
from vipsfront_cdk.config import Settings
from vipsfront_cdk.dashboard import Dashboard
from vipsfront_cdk.distribution import Distribution
from vipsfront_cdk.edge_function import EdgeFunction
from vipsfront_cdk.stack import VipsfrontStack
from vipsfront_cdk.transform_function import TransformFunction

__all__ = [
    "Buckets",
    "Dashboard",
    "Distribution",
    "EdgeFunction",
    "Settings",
    "TransformFunction",
    "VipsfrontStack",
]
