"""An Application Load Balancer (internal unless asked otherwise) with S3 access logs and one listener."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_ec2 as ec2, aws_elasticloadbalancingv2 as elbv2
from constructs import Construct


class ServiceLoadBalancer(Construct):
    """``listener`` is HTTPS on 443 (port 80 redirects to it) when ``certificate_arn`` is given, else HTTP on 80.
    Neither listener opens the security group: its rules are the caller's."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: Sequence[ec2.ISubnet],
        security_group: ec2.ISecurityGroup,
        load_balancer_name: str,
        deletion_protection: bool,
        access_logs_bucket_name: str,
        access_logs_prefix: str,
        certificate_arn: str | None = None,
        internet_facing: bool = False,
    ):
        super().__init__(scope, construct_id)
        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "Alb",
            vpc=vpc,
            internet_facing=internet_facing,
            security_group=security_group,
            vpc_subnets=ec2.SubnetSelection(subnets=list(subnets)),
            load_balancer_name=load_balancer_name,
            drop_invalid_header_fields=True,
            deletion_protection=deletion_protection,
        )
        # Attributes only: the policy that lets ELB write to the bucket is defined with the bucket.
        for key, value in (
            ("access_logs.s3.enabled", "true"),
            ("access_logs.s3.bucket", access_logs_bucket_name),
            ("access_logs.s3.prefix", access_logs_prefix),
        ):
            self.load_balancer.set_attribute(key, value)
        if certificate_arn is None:
            self.listener = self.load_balancer.add_listener(
                "Http", port=80, protocol=elbv2.ApplicationProtocol.HTTP, open=False
            )
        else:
            self.load_balancer.add_redirect(source_port=80, target_port=443, open=False)
            self.listener = self.load_balancer.add_listener(
                "Https",
                port=443,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                open=False,
                certificates=[elbv2.ListenerCertificate.from_arn(certificate_arn)],
                ssl_policy=elbv2.SslPolicy.RECOMMENDED_TLS,
            )
