"""Spec section 1.4 (and 7's tradai-update-nat-routes row): NAT-instance HA."""

from pathlib import Path

import spec
from cfn import as_list, by_name_tag, ref, resources, statements

from tradai_cdk.constructs.nat_boot import boot_script

ROOT = Path(__file__).resolve().parents[1]


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
    return "".join(part if isinstance(part, str) else "TOKEN" for part in joined["Fn::Join"][1])


def test_user_data_is_the_tested_boot_script_for_the_spec_vpc(foundation):
    """tests/test_nat_boot_script.py executes boot_script(); the template must carry exactly that script."""
    _, template = foundation
    expected = "#!/bin/bash\n" + boot_script(vpc_cidr=spec.VPC_CIDR, eip_address="TOKEN",
                                             boot_tag_key="tradai:nat-boot", ready_value="ready",
                                             failed_value="failed")
    assert _user_data(template) == expected


def test_user_data_carries_the_static_eip_address(foundation):
    _, template = foundation
    (eip_id,) = resources(template, "AWS::EC2::EIP")
    parts = _only(template, "AWS::EC2::LaunchTemplate")["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Join"][1]
    assert {"Ref": eip_id} in parts
    assert _only(template, "AWS::EC2::EIP")["Domain"] == "vpc"


def test_instance_terminates_on_shutdown_so_a_failed_boot_is_replaced(foundation):
    _, template = foundation
    data = _only(template, "AWS::EC2::LaunchTemplate")["LaunchTemplateData"]
    assert data["InstanceInitiatedShutdownBehavior"] == "terminate"


def _policy(template, prefix) -> dict[str, dict]:
    return {s.get("Sid", "unnamed"): s for s in statements(template, prefix)}


def test_instance_role_may_only_tag_itself_ready_or_failed_and_use_session_manager(foundation):
    env, template = foundation
    granted = _policy(template, "NatInstanceInstanceRoleDefaultPolicy")
    assert set(granted) == {"SignalBootState", "SessionManager"}
    tag = granted["SignalBootState"]
    assert tag["Action"] == "ec2:CreateTags"
    assert str(tag["Resource"]).endswith(":instance/*']]}") or "instance/*" in str(tag["Resource"])
    assert tag["Condition"] == {
        "StringEquals": {"aws:ResourceTag/aws:autoscaling:groupName": f"tradai-nat-asg-{env}",
                         "aws:RequestTag/tradai:nat-boot": ["ready", "failed"]},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["tradai:nat-boot"]}}
    assert set(granted["SessionManager"]["Action"]) == {
        "ssm:UpdateInstanceInformation", "ssmmessages:CreateControlChannel", "ssmmessages:CreateDataChannel",
        "ssmmessages:OpenControlChannel", "ssmmessages:OpenDataChannel"}
    role = next(r for lid, r in resources(template, "AWS::IAM::Role").items() if lid.startswith("NatInstanceInstanceRole"))
    assert "ManagedPolicyArns" not in role
    every_action = {a for s in granted.values() for a in as_list(s["Action"])}
    assert not every_action & (spec.NAT_INSTANCE_ACTIONS | {"ec2:ModifyNetworkInterfaceAttribute"})


def test_spec_nat_instance_actions_are_held_by_the_route_function_on_nat_instances_only(foundation):
    """Spec 1.4 grants AssociateAddress/ModifyInstanceAttribute; they moved to the route function (decision)."""
    env, template = foundation
    granted = _policy(template, "NatInstanceRouteFunctionRoleDefaultPolicy")
    prepare = granted["PrepareNatInstances"]
    assert set(prepare["Action"]) == spec.NAT_INSTANCE_ACTIONS
    assert prepare["Condition"] == {"StringEquals": {"aws:ResourceTag/aws:autoscaling:groupName": f"tradai-nat-asg-{env}"}}
    (eip_id,) = resources(template, "AWS::EC2::EIP")
    eip = granted["MoveTheElasticIp"]
    assert eip["Action"] == "ec2:AssociateAddress" and f"'{eip_id}', 'AllocationId'" in str(eip["Resource"])
    interfaces = granted["NatInterfaces"]
    assert interfaces["Action"] == "ec2:AssociateAddress"
    public_1 = by_name_tag(template, "AWS::EC2::Subnet")[f"tradai-{spec.NAT_SUBNET.lower()}-{env}"][0]
    assert public_1 in str(interfaces["Condition"]["StringEquals"]["ec2:Subnet"])


def test_route_function_matches_spec_row(foundation):
    env, template = foundation
    name, memory, timeout, in_vpc = spec.UPDATE_NAT_ROUTES
    fn = _only(template, "AWS::Lambda::Function")
    assert fn["FunctionName"] == f"{name}-{env}"
    assert (fn["Runtime"], fn["MemorySize"], fn["Timeout"]) == (spec.LAMBDA_RUNTIME, memory, timeout)
    assert ("VpcConfig" in fn) is in_vpc
    private_rt = by_name_tag(template, "AWS::EC2::RouteTable")[f"tradai-private-rt-{env}"][0]
    variables = fn["Environment"]["Variables"]
    assert variables["ROUTE_TABLE_IDS"] == {"Ref": private_rt}
    (hook,) = _only(template, "AWS::AutoScaling::AutoScalingGroup")["LifecycleHookSpecificationList"]
    assert (variables["AUTO_SCALING_GROUP_NAME"], variables["LIFECYCLE_HOOK_NAME"]) == (
        f"tradai-nat-asg-{env}", hook["LifecycleHookName"])
    (eip_id,) = resources(template, "AWS::EC2::EIP")
    assert variables["EIP_ALLOCATION_ID"] == {"Fn::GetAtt": [eip_id, "AllocationId"]}


def test_readiness_budget_fits_inside_the_lifecycle_heartbeat(foundation):
    """The function must judge readiness and switch before the hook's default ABANDON."""
    _, template = foundation
    variables = _only(template, "AWS::Lambda::Function")["Environment"]["Variables"]
    (hook,) = _only(template, "AWS::AutoScaling::AutoScalingGroup")["LifecycleHookSpecificationList"]
    ready, poll = int(variables["READY_TIMEOUT_SECONDS"]), int(variables["POLL_INTERVAL_SECONDS"])
    assert hook["DefaultResult"] == "ABANDON"
    assert 0 < ready <= hook["HeartbeatTimeout"] - 20
    assert 0 < poll < spec.UPDATE_NAT_ROUTES[2] - 20


def test_route_function_uses_the_pinned_powertools_layer(foundation):
    _, template = foundation
    (layer,) = _only(template, "AWS::Lambda::Function")["Layers"]
    parameter = template["Parameters"][ref(layer)]
    pinned = next(line.split("==")[1].strip() for line in (ROOT / "requirements-dev.txt").read_text().splitlines()
                  if line.startswith("aws-lambda-powertools=="))
    assert parameter == {"Type": "AWS::SSM::Parameter::Value<String>",
                         "Default": f"/aws/service/powertools/python/arm64/python3.11/{pinned}"}


def test_route_function_retries_async_failures_into_the_dlq(foundation):
    _, template = foundation
    fn = _only(template, "AWS::Lambda::Function")
    (dlq_id,) = resources(template, "AWS::SQS::Queue")
    assert ref(fn["DeadLetterConfig"]["TargetArn"]) == dlq_id
    config = _only(template, "AWS::Lambda::EventInvokeConfig")
    assert config["MaximumRetryAttempts"] == 2


def test_route_function_may_only_touch_the_private_route_table_the_nat_asg_and_itself(foundation):
    env, template = foundation
    private_rt = by_name_tag(template, "AWS::EC2::RouteTable")[f"tradai-private-rt-{env}"][0]
    granted = statements(template, "NatInstanceRouteFunctionRoleDefaultPolicy")
    routes = [s for s in granted if set(as_list(s["Action"])) == spec.NAT_LAMBDA_ROUTE_ACTIONS]
    (route_statement,) = routes
    assert private_rt in str(route_statement["Resource"])
    (lifecycle,) = [s for s in granted if s["Action"] == spec.NAT_LAMBDA_LIFECYCLE_ACTION]
    assert f"autoScalingGroupName/tradai-nat-asg-{env}" in str(lifecycle["Resource"])
    (invoke,) = [s for s in granted if s["Action"] == "lambda:InvokeFunction"]
    assert f"function:tradai-update-nat-routes-{env}" in str(invoke["Resource"])
    wildcard = [s for s in granted if s["Resource"] == "*"]
    assert {a for s in wildcard for a in as_list(s["Action"])} <= {
        "ec2:DescribeInstances", "ec2:DescribeRouteTables", "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeAddresses", "xray:PutTraceSegments", "xray:PutTelemetryRecords"}
    actions = {a for s in granted for a in as_list(s["Action"])}
    assert not {"ec2:ModifyNetworkInterfaceAttribute", "ec2:DisassociateAddress", "ec2:DeleteRoute"} & actions


def _rules(template) -> tuple[str, dict, str, dict]:
    """(id, props) of the lifecycle rule and of the route audit schedule."""
    rules = resources(template, "AWS::Events::Rule")
    (lifecycle_id,) = [key for key, props in rules.items() if "EventPattern" in props]
    (audit_id,) = [key for key, props in rules.items() if "ScheduleExpression" in props]
    return lifecycle_id, rules[lifecycle_id], audit_id, rules[audit_id]


def test_eventbridge_rule_sends_only_this_asgs_route_hook_to_the_function(foundation):
    env, template = foundation
    _, rule, _, _ = _rules(template)
    (hook,) = _only(template, "AWS::AutoScaling::AutoScalingGroup")["LifecycleHookSpecificationList"]
    assert rule["EventPattern"] == {
        "source": ["aws.autoscaling"], "detail-type": ["EC2 Instance-launch Lifecycle Action"],
        "detail": {"AutoScalingGroupName": [f"tradai-nat-asg-{env}"],
                   "LifecycleHookName": [hook["LifecycleHookName"]]}}
    (target,) = rule["Targets"]
    (function_id,) = resources(template, "AWS::Lambda::Function")
    assert ref(target["Arn"]) == function_id
    assert "DeadLetterConfig" in target


def test_asg_waits_for_the_rule_so_the_first_launch_is_routed(foundation):
    _, template = foundation
    (asg_id,) = resources(template, "AWS::AutoScaling::AutoScalingGroup")
    rule_id, _, _, _ = _rules(template)
    permission_id = next(key for key, props in resources(template, "AWS::Lambda::Permission").items()
                         if props["SourceArn"] == {"Fn::GetAtt": [rule_id, "Arn"]})
    depends = set(template["Resources"][asg_id]["DependsOn"])
    assert {rule_id, permission_id} <= depends


def test_route_audit_runs_every_five_minutes_without_retries(foundation):
    _, template = foundation
    _, _, _, audit = _rules(template)
    assert audit["ScheduleExpression"] == "rate(5 minutes)"
    (target,) = audit["Targets"]
    (function_id,) = resources(template, "AWS::Lambda::Function")
    assert ref(target["Arn"]) == function_id
    assert target["RetryPolicy"]["MaximumRetryAttempts"] == 0


def test_status_check_and_unusable_route_alarm_the_alerts_topic(foundation):
    env, template = foundation
    (topic_id,) = resources(template, "AWS::SNS::Topic")
    by_name = {a["AlarmName"]: a for a in resources(template, "AWS::CloudWatch::Alarm").values()}
    status = by_name[f"tradai-nat-asg-{env}-status-check-failed"]
    assert (status["Namespace"], status["MetricName"], status["Statistic"]) == ("AWS/EC2", "StatusCheckFailed", "Maximum")
    assert status["Dimensions"] == [{"Name": "AutoScalingGroupName", "Value": f"tradai-nat-asg-{env}"}]
    route = by_name[f"tradai-nat-asg-{env}-default-route-unusable"]
    assert (route["Namespace"], route["MetricName"]) == ("TradAI/NatInstance", "RoutesUnusable")
    assert route["TreatMissingData"] == "breaching"  # an audit that stops reporting is an alarm too
    for alarm in (status, route):
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
        assert [ref(action) for action in alarm["AlarmActions"]] == [topic_id]


def test_nat_security_group_is_attached_to_the_launch_template(foundation):
    _, template = foundation
    nat_sg = next(logical_id for logical_id, props in resources(template, "AWS::EC2::SecurityGroup").items()
                  if props["GroupName"] == "tradai-nat-sg")
    (interface,) = _only(template, "AWS::EC2::LaunchTemplate")["LaunchTemplateData"]["NetworkInterfaces"]
    assert [ref(group) for group in interface["Groups"]] == [nat_sg]


def test_route_failure_dlq_and_function_errors_alarm_the_alerts_topic(foundation):
    env, template = foundation
    (topic_id,) = resources(template, "AWS::SNS::Topic")
    alarms = resources(template, "AWS::CloudWatch::Alarm")
    by_metric = {a.get("MetricName"): a for a in alarms.values()}
    assert {"RouteUpdateFailed", "ApproximateNumberOfMessagesVisible", "Errors"} <= set(by_metric)
    for name in ("RouteUpdateFailed", "ApproximateNumberOfMessagesVisible", "Errors"):
        alarm = by_metric[name]
        assert [ref(action) for action in alarm["AlarmActions"]] == [topic_id], name
        assert (alarm["Threshold"], alarm["ComparisonOperator"]) == (1, "GreaterThanOrEqualToThreshold")
    failed = by_metric["RouteUpdateFailed"]
    assert failed["Namespace"] == "TradAI/NatInstance"
    assert {d["Name"]: d["Value"] for d in failed["Dimensions"]} == {
        "service": "nat-routes", "AutoScalingGroupName": f"tradai-nat-asg-{env}"}


def test_alerts_topic_is_kms_encrypted_tls_only_and_cloudwatch_may_use_its_key(foundation):
    env, template = foundation
    topic = _only(template, "AWS::SNS::Topic")
    assert topic["TopicName"] == f"tradai-alerts-{env}"
    key_id = ref(topic["KmsMasterKeyId"])
    key = resources(template, "AWS::KMS::Key")[key_id]
    assert key["EnableKeyRotation"] is True
    expected = "RetainExceptOnCreate" if env == "prod" else "Delete"
    assert template["Resources"][key_id]["DeletionPolicy"] == expected
    (cloudwatch,) = [s for s in key["KeyPolicy"]["Statement"]
                     if s.get("Principal", {}).get("Service") == "cloudwatch.amazonaws.com"]
    assert set(cloudwatch["Action"]) == {"kms:Decrypt", "kms:GenerateDataKey*"}
    (policy,) = resources(template, "AWS::SNS::TopicPolicy").values()
    (deny,) = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_static_eip_is_retained_in_prod_and_published_as_the_egress_address(foundation):
    env, template = foundation
    (eip_id,) = resources(template, "AWS::EC2::EIP")
    expected = ("RetainExceptOnCreate", "Retain") if env == "prod" else ("Delete", "Delete")
    assert (template["Resources"][eip_id]["DeletionPolicy"], template["Resources"][eip_id]["UpdateReplacePolicy"]) == (
        expected)
    output = template["Outputs"]["EgressIp"]
    assert output["Value"] == {"Ref": eip_id}
    assert "allowlist" in output["Description"]
