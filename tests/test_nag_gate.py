"""cdk-nag is a validation plugin: an unacknowledged finding must fail synth."""

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from cdk_nag import AwsSolutionsChecks


def test_unacknowledged_finding_fails_synth(tmp_path):
    # The built-in CloudFormation validation is not what is tested here, and its engine takes seconds to start.
    app = cdk.App(outdir=str(tmp_path), builtin_cloud_formation_validation=False)
    stack = cdk.Stack(app, "Probe", env=cdk.Environment(account="123456789012", region="eu-central-1"))
    ec2.CfnSecurityGroup(stack, "OpenSsh", group_description="probe", security_group_ingress=[
        ec2.CfnSecurityGroup.IngressProperty(ip_protocol="tcp", from_port=22, to_port=22, cidr_ip="0.0.0.0/0")])
    cdk.Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    with pytest.raises(RuntimeError, match=r"(?s)ValidationFailed: ERROR .*AwsSolutions-EC23"):
        app.synth()
