"""Names of account-wide resources. CloudFront's policies, origin access controls and key stores are
global to the account: each name carries the stack's region, so one stack name deploys in two regions
(the cache policy and the function get theirs from the CDK already)."""

from __future__ import annotations

import jsii
from aws_cdk import Aws, CfnResource, Fn, IAspect, Names
from constructs import IConstruct

LONGEST_REGION = len("ap-southeast-5")

# CloudFormation type -> the property path of its name
NAME_PATHS = {
    "AWS::CloudFront::KeyValueStore": "Name",
    "AWS::CloudFront::OriginRequestPolicy": "OriginRequestPolicyConfig.Name",
    "AWS::CloudFront::ResponseHeadersPolicy": "ResponseHeadersPolicyConfig.Name",
    "AWS::CloudFront::OriginAccessControl": "OriginAccessControlConfig.Name",
}


def regional_name(construct: IConstruct, max_length: int = 64) -> str:
    """``<unique id of the construct>-<region>``, at most ``max_length`` characters once deployed."""
    unique = Names.unique_resource_name(construct, max_length=max_length - LONGEST_REGION - 1, separator="")
    return Fn.join("-", [unique, Aws.REGION])


@jsii.implements(IAspect)
class RegionalNames:
    """Give every account-wide CloudFront resource under a scope a name that includes the region."""

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, CfnResource) and node.cfn_resource_type in NAME_PATHS:
            node.add_property_override(NAME_PATHS[node.cfn_resource_type], regional_name(node))
