"""A TradAI environment: the persistent, foundation, compute and edge stacks."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from constructs import Construct

from ..config import TradaiConfig
from ..config.model import SubnetTier
from ..constructs.reference_refresh import ReferenceRefresh
from ..nag import acknowledge_findings
from ..stacks import ComputeStack, EdgeStack, FoundationStack, PersistentStack
from ..stacks.persistent import LOGS_BUCKET

# Stateful resources; most are named, so a leftover would block the next create.
RETAINED_IN_PROD = (
    "AWS::DynamoDB::Table",
    "AWS::S3::Bucket",
    "AWS::SecretsManager::Secret",
    "AWS::Cognito::UserPool",
    "AWS::RDS::DBSubnetGroup",
    "AWS::ECR::Repository",
    "AWS::Logs::LogGroup",
    "AWS::EC2::EIP",
    "AWS::KMS::Key",
    "AWS::EC2::VPC",
    "AWS::EC2::Subnet",
)


class TradaiStage(cdk.Stage):
    """Wires the stacks of one environment; values flow config -> stacks -> constructs."""

    def __init__(self, scope: Construct, construct_id: str, *, config: TradaiConfig, env: cdk.Environment):
        super().__init__(scope, construct_id, env=env)
        azs = config.network.availability_zones
        self.foundation = FoundationStack(
            self, "Foundation", config=config, availability_zones=azs, stack_name=config.naming.name("foundation")
        )
        network = self.foundation.network
        self.persistent = PersistentStack(
            self,
            "Persistent",
            config=config,
            availability_zones=azs,
            stack_name=config.naming.name("persistent"),
            vpc=network.vpc,
            database_subnets=network.subnets_of(ec2.SubnetType.PRIVATE_ISOLATED),
            database_security_group=self.foundation.security_groups["rds"],
            alarm_action=self.foundation.alerts.action,
        )
        self.compute = ComputeStack(
            self,
            "Compute",
            config=config,
            availability_zones=azs,
            stack_name=config.naming.name("compute"),
            vpc=network.vpc,
            private_subnets=network.subnets_of(ec2.SubnetType.PRIVATE_WITH_EGRESS),
            public_subnets=network.subnets_of(ec2.SubnetType.PUBLIC),
            security_groups=self.foundation.security_groups.groups,
            tables=self.persistent.tables,
            buckets=self.persistent.buckets,
            secrets=self.persistent.secrets,
            alerts_topic=self.foundation.alerts.topic,
            runtime_managed=self._runtime_managed(),
        )
        self.edge = EdgeStack(
            self,
            "Edge",
            config=config,
            availability_zones=azs,
            stack_name=config.naming.name("edge"),
            private_subnets=network.subnets_of(ec2.SubnetType.PRIVATE_WITH_EGRESS),
            vpc_link_security_group=self.foundation.security_groups["apigw"],
            listener=self.compute.listener,
            load_balancer=self.compute.load_balancer,
            user_pool=self.persistent.user_pool,
            user_pool_client=self.persistent.user_pool_client,
            backtest_queue=self.compute.backtest_queue,
            logs_bucket=self.persistent.buckets[LOGS_BUCKET],
            alerts_topic=self.foundation.alerts.topic,
            monitored_stacks=[self.foundation, self.persistent, self.compute],
        )
        for consumer in (self.persistent, self.compute, self.edge):
            ReferenceRefresh(consumer, "ProducerOutputs")
        for stack in (self.foundation, self.persistent, self.compute, self.edge):
            stack.encrypt_log_groups()  # after every construct that adds a log group
        for key, value in config.tags:
            cdk.Tags.of(self).add(key, value)
        if config.profile.deletion_protection:
            # Kept on stack deletion and replacement, but not after a failed first create: a rolled-back
            # first deploy leaves no named leftovers and can simply be run again (CloudFormation
            # DeletionPolicy RetainExceptOnCreate). The database keeps its final snapshot instead.
            cdk.RemovalPolicies.of(self).apply(
                cdk.RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE, apply_to_resource_types=list(RETAINED_IN_PROD)
            )
        acknowledge_findings(self)

    def _runtime_managed(self) -> list[str]:
        """Resources changed at run time by design, never reported as drift: the Private route table, whose
        default route the NAT route function moves (it is not a CloudFormation resource itself)."""
        foundation = self.foundation
        table = foundation.network.route_tables[SubnetTier.PRIVATE.value]
        return [f"{foundation.stack_name}/{foundation.resolve(foundation.get_logical_id(table))}"]
