"""Spec section 1.4 (and 7's tradai-update-nat-routes row): NAT-instance HA."""

import spec
from cfn import as_list, by_name_tag, ref, resources, statements


def _only(template, resource_type):
    (props,) = resources(template, resource_type).values()
    return props


def test_asg_is_one_instance_in_public_1_with_ec2_health_checks(foundation):
    env, template = foundation
    asg = _only(template, "AWS::AutoScaling::AutoScalingGroup")
    assert {key: asg[key] for key in spec.NAT_ASG} == spec.NAT_ASG
    public_1 = by_name_tag(template, "AWS::EC2::Subnet")[f"tradai-{spec.NAT_SUBNET.lower()}-{env}"][0]
    assert [ref(subnet) for subnet in asg["VPCZoneIdentifier"]] == [public_1]
    assert asg["HealthCheckType"] == "EC2"
    assert asg["AutoScalingGroupName"] == f"tradai-nat-asg-{env}"


def test_launch_hook_is_inline_so_the_first_instance_is_covered(foundation):
    _, template = foundation
    (hook,) = _only(template, "AWS::AutoScaling::AutoScalingGroup")["LifecycleHookSpecificationList"]
    assert hook["LifecycleTransition"] == "autoscaling:EC2_INSTANCE_LAUNCHING"
    assert hook["DefaultResult"] == "ABANDON"
    assert resources(template, "AWS::AutoScaling::LifecycleHook") == {}


def test_launch_template_t4g_nano_al2023_arm64_imdsv2_no_ssh(foundation):
    _, template = foundation
    data = _only(template, "AWS::EC2::LaunchTemplate")["LaunchTemplateData"]
    assert data["InstanceType"] == spec.NAT_INSTANCE_TYPE
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert "KeyName" not in data
    image_parameter = ref(data["ImageId"])
    assert template["Parameters"][image_parameter] == {
        "Type": "AWS::SSM::Parameter::Value<AWS::EC2::Image::Id>", "Default": spec.NAT_AMI_PARAMETER}
    (interface,) = data["NetworkInterfaces"]
    assert interface["AssociatePublicIpAddress"] is True


def _user_data(template) -> str:
    joined = _only(template, "AWS::EC2::LaunchTemplate")["LaunchTemplateData"]["UserData"]["Fn::Base64"]
    return "".join(part if isinstance(part, str) else "<token>" for part in joined["Fn::Join"][1])


def test_user_data_forwards_masquerades_persists_and_takes_the_eip(foundation):
    _, template = foundation
    script = _user_data(template)
    for fragment in ("net.ipv4.ip_forward = 1", "/etc/sysctl.d/", "-j MASQUERADE", "/etc/sysconfig/iptables",
                     "systemctl enable --now iptables", "--no-source-dest-check",
                     "associate-address", "--allow-reassociation", "X-aws-ec2-metadata-token"):
        assert fragment in script, fragment


def test_user_data_associates_the_static_eip(foundation):
    _, template = foundation
    (eip_id,) = resources(template, "AWS::EC2::EIP")
    parts = _only(template, "AWS::EC2::LaunchTemplate")["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Join"][1]
    assert {"Fn::GetAtt": [eip_id, "AllocationId"]} in parts
    assert _only(template, "AWS::EC2::EIP")["Domain"] == "vpc"


def test_instance_role_has_exactly_the_spec_actions_plus_ssm_core(foundation):
    _, template = foundation
    granted = statements(template, "NatInstanceInstanceRoleDefaultPolicy")
    assert set().union(*(set(as_list(s["Action"])) for s in granted)) == spec.NAT_INSTANCE_ACTIONS
    for statement in granted:
        assert statement["Resource"] != "*"
    roles = resources(template, "AWS::IAM::Role")
    instance_role = next(r for logical_id, r in roles.items() if logical_id.startswith("NatInstanceInstanceRole"))
    (managed,) = instance_role["ManagedPolicyArns"]
    assert "AmazonSSMManagedInstanceCore" in str(managed)


def test_route_function_matches_spec_row(foundation):
    env, template = foundation
    name, memory, timeout, in_vpc = spec.UPDATE_NAT_ROUTES
    fn = _only(template, "AWS::Lambda::Function")
    assert fn["FunctionName"] == f"{name}-{env}"
    assert (fn["Runtime"], fn["MemorySize"], fn["Timeout"]) == (spec.LAMBDA_RUNTIME, memory, timeout)
    assert ("VpcConfig" in fn) is in_vpc
    private_rt = by_name_tag(template, "AWS::EC2::RouteTable")[f"tradai-private-rt-{env}"][0]
    assert fn["Environment"]["Variables"]["ROUTE_TABLE_IDS"] == {"Ref": private_rt}


def test_route_function_may_only_touch_the_private_route_table_and_the_nat_asg(foundation):
    env, template = foundation
    private_rt = by_name_tag(template, "AWS::EC2::RouteTable")[f"tradai-private-rt-{env}"][0]
    granted = statements(template, "NatInstanceRouteFunctionRoleDefaultPolicy")
    routes = [s for s in granted if set(as_list(s["Action"])) == spec.NAT_LAMBDA_ROUTE_ACTIONS]
    (route_statement,) = routes
    assert private_rt in str(route_statement["Resource"])
    (lifecycle,) = [s for s in granted if s["Action"] == spec.NAT_LAMBDA_LIFECYCLE_ACTION]
    assert f"autoScalingGroupName/tradai-nat-asg-{env}" in str(lifecycle["Resource"])
    wildcard = [s for s in granted if s["Resource"] == "*"]
    assert {a for s in wildcard for a in as_list(s["Action"])} <= {
        "ec2:DescribeInstances", "ec2:DescribeRouteTables", "ec2:DescribeNetworkInterfaces",
        "xray:PutTraceSegments", "xray:PutTelemetryRecords"}


def test_eventbridge_rule_sends_this_asgs_launch_hook_to_the_function(foundation):
    env, template = foundation
    rule = _only(template, "AWS::Events::Rule")
    assert rule["EventPattern"] == {
        "source": ["aws.autoscaling"], "detail-type": ["EC2 Instance-launch Lifecycle Action"],
        "detail": {"AutoScalingGroupName": [f"tradai-nat-asg-{env}"]}}
    (target,) = rule["Targets"]
    (function_id,) = resources(template, "AWS::Lambda::Function")
    assert ref(target["Arn"]) == function_id
    assert "DeadLetterConfig" in target


def test_asg_waits_for_the_rule_so_the_first_launch_is_routed(foundation):
    _, template = foundation
    (asg_id,) = resources(template, "AWS::AutoScaling::AutoScalingGroup")
    (rule_id,) = resources(template, "AWS::Events::Rule")
    (permission_id,) = resources(template, "AWS::Lambda::Permission")
    depends = set(template["Resources"][asg_id]["DependsOn"])
    assert {rule_id, permission_id} <= depends


def test_nat_security_group_is_attached_to_the_launch_template(foundation):
    _, template = foundation
    nat_sg = next(logical_id for logical_id, props in resources(template, "AWS::EC2::SecurityGroup").items()
                  if props["GroupName"] == "tradai-nat-sg")
    (interface,) = _only(template, "AWS::EC2::LaunchTemplate")["LaunchTemplateData"]["NetworkInterfaces"]
    assert [ref(group) for group in interface["Groups"]] == [nat_sg]
