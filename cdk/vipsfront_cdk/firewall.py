"""An AWS WAF web ACL for the distribution: a per-IP rate limit in front of every transform.

CloudFront takes only web ACLs of scope ``CLOUDFRONT``, which exist in us-east-1 alone: the stack
creates one only when it deploys there (a template rule stops a deployment elsewhere before any
resource changes); in other regions pass an existing ACL's ARN instead.
"""

from __future__ import annotations

from aws_cdk import Aws, CfnRule, CfnRuleAssertion, Fn
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

from vipsfront_cdk.names import regional_name


class Firewall(Construct):
    """``web_acl``: a web ACL that allows everything but blocks an IP over ``rate_limit`` per 5 minutes."""

    def __init__(self, scope: Construct, construct_id: str, *, rate_limit: int) -> None:
        super().__init__(scope, construct_id)
        CfnRule(
            self,
            "InUsEast1",
            assertions=[
                CfnRuleAssertion(
                    assert_=Fn.condition_equals(Aws.REGION, "us-east-1"),
                    assert_description="vipsfront:wafRateLimit creates a CLOUDFRONT web ACL, which exists only "
                    "in us-east-1: deploy there, or pass an existing ACL with vipsfront:webAclArn",
                )
            ],
        )
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            name=regional_name(self, 128),
            scope="CLOUDFRONT",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=_visibility("vipsfront-web-acl"),
            rules=[
                wafv2.CfnWebACL.RuleProperty(
                    name="RatePerIp",
                    priority=0,
                    action=wafv2.CfnWebACL.RuleActionProperty(block={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                            aggregate_key_type="IP", limit=rate_limit, evaluation_window_sec=300
                        )
                    ),
                    visibility_config=_visibility("vipsfront-rate-per-ip"),
                ),
                # The known-bad-inputs set answers checkov's Log4j finding at one WCU-cheap managed group.
                wafv2.CfnWebACL.RuleProperty(
                    name="KnownBadInputs",
                    priority=1,
                    override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
                    statement=wafv2.CfnWebACL.StatementProperty(
                        managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                            vendor_name="AWS", name="AWSManagedRulesKnownBadInputsRuleSet"
                        )
                    ),
                    visibility_config=_visibility("vipsfront-known-bad-inputs"),
                ),
            ],
        )
        self.arn = self.web_acl.attr_arn


def _visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )
