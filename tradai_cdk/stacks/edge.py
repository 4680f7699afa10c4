"""Edge stack: the public API (spec 5), its WAF (4.3) and CloudTrail (10)."""

from __future__ import annotations

from typing import Sequence

from aws_cdk import (
    aws_cognito as cognito,
    aws_ec2 as ec2,
    aws_elasticloadbalancingv2 as elbv2,
    aws_sns as sns,
    aws_sqs as sqs,
)
from constructs import Construct

from ..constructs.tradai_bucket import TradaiBucket
from .base import TradaiStack


class EdgeStack(TradaiStack):
    """Wires the API, the web ACL and the trail to the other tiers' handles."""

    def __init__(self, scope: Construct, construct_id: str, *, private_subnets: Sequence[ec2.ISubnet],
                 vpc_link_security_group: ec2.ISecurityGroup, listener: elbv2.IApplicationListener,
                 load_balancer: elbv2.IApplicationLoadBalancer, user_pool: cognito.IUserPool,
                 user_pool_client: cognito.IUserPoolClient, backtest_queue: sqs.IQueue, logs_bucket: TradaiBucket,
                 alerts_topic: sns.ITopic, **kwargs):
        super().__init__(scope, construct_id, **kwargs)
