"""Every stack: what connects resources, read back and compared with the config: each state machine is a
config workflow logging to its own log group; each event source mapping feeds the backtest queue to an
SQS-triggered config function; each instance profile holds one role and is used by a launch template of
the stack; the flow log covers the VPC with the config's traffic type into its log group; the alerts
topic is encrypted with the alerts key; a queue is the DLQ of the NAT launch rule; the dashboard shows
every alarm the config asks for."""

from __future__ import annotations

from .alarms import WORKFLOWS, expected_alarms
from .compute import queue_name
from .model import CheckContext, Findings, StackView
from .persistent import check_log_group

DASHBOARD = "operations"  # tradai-operations-<env>


def check(view: StackView, ctx: CheckContext, findings: Findings) -> None:
    for part in (_state_machines, _event_sources, _instance_profiles, _flow_logs, _topics, _rule_dlqs, _dashboards):
        part(view, ctx, findings)


def _state_machines(view, ctx, findings) -> None:
    names = {ctx.cfg.naming.name(w) for w in WORKFLOWS}
    for machine in view.of_type("AWS::StepFunctions::StateMachine"):
        described = ctx.client("stepfunctions").describe_state_machine(stateMachineArn=machine.physical_id)
        findings.holds(machine.logical_id, f"{described['name']} is a config workflow", described["name"] in names)
        destinations = described.get("loggingConfiguration", {}).get("destinations", [])
        arns = [d["cloudWatchLogsLogGroup"]["logGroupArn"] for d in destinations]
        findings.expect(
            machine.logical_id,
            "logs to",
            [f"/aws/vendedlogs/states/{described['name']}"],
            [a.split(":log-group:")[-1].removesuffix(":*") for a in arns],
        )
        check_log_group(view, ctx, findings, f"/aws/vendedlogs/states/{described['name']}")


def _event_sources(view, ctx, findings) -> None:
    cfg = ctx.cfg
    sqs_functions = {cfg.function_name(s.name) for s in cfg.lambdas if s.trigger == "sqs"}
    for mapping in view.of_type("AWS::Lambda::EventSourceMapping"):
        described = ctx.client("lambda").get_event_source_mapping(UUID=mapping.physical_id)
        pair = (described["EventSourceArn"].split(":")[-1], described["FunctionArn"].split(":function:")[-1])
        findings.holds(
            mapping.logical_id,
            f"{pair[0]} -> {pair[1]}: the backtest queue to an SQS-triggered function",
            pair[0] == queue_name(cfg, cfg.backtest_queue) and pair[1] in sqs_functions,
            pair,
        )


def _instance_profiles(view, ctx, findings) -> None:
    ec2, iam = ctx.client("ec2"), ctx.client("iam")
    used = set()
    for template in view.of_type("AWS::EC2::LaunchTemplate"):
        [version] = ec2.describe_launch_template_versions(LaunchTemplateId=template.physical_id, Versions=["$Latest"])[
            "LaunchTemplateVersions"
        ]
        profile = version["LaunchTemplateData"].get("IamInstanceProfile", {})
        used |= {profile.get("Arn", "").split("/")[-1], profile.get("Name")}
    for resource in view.of_type("AWS::IAM::InstanceProfile"):
        profile = iam.get_instance_profile(InstanceProfileName=resource.physical_id)["InstanceProfile"]
        findings.expect(
            resource.logical_id,
            "(used by a launch template of the stack, roles)",
            (True, 1),
            (profile["InstanceProfileName"] in used, len(profile["Roles"])),
        )


def _flow_logs(view, ctx, findings) -> None:
    vpcs = {v.physical_id for v in view.of_type("AWS::EC2::VPC")}
    for resource in view.of_type("AWS::EC2::FlowLog"):
        [flow] = ctx.client("ec2").describe_flow_logs(FlowLogIds=[resource.physical_id])["FlowLogs"]
        findings.expect(
            resource.logical_id,
            "(covers the stack's VPC, traffic type)",
            (True, ctx.cfg.network.flow_log_traffic_type),
            (flow["ResourceId"] in vpcs, flow["TrafficType"]),
        )
        group = flow.get("LogGroupName") or flow.get("LogDestination", "").split(":log-group:")[-1].removesuffix(":*")
        check_log_group(view, ctx, findings, group)


def _topics(view, ctx, findings) -> None:
    sns, kms, name = ctx.client("sns"), ctx.client("kms"), ctx.cfg.naming.name("alerts")
    for topic in view.of_type("AWS::SNS::Topic"):
        attributes = sns.get_topic_attributes(TopicArn=topic.physical_id)["Attributes"]
        key = kms.describe_key(KeyId=f"alias/{name}")["KeyMetadata"]
        findings.expect(topic.logical_id, "name", name, topic.physical_id.split(":")[-1])
        findings.holds(
            topic.logical_id,
            f"encrypted with alias/{name}",
            attributes.get("KmsMasterKeyId") in (key["Arn"], key["KeyId"], f"alias/{name}"),
            attributes.get("KmsMasterKeyId"),
        )
        subscribed = sns.list_subscriptions_by_topic(TopicArn=topic.physical_id)["Subscriptions"]
        findings.expect(
            topic.logical_id,
            "email subscriptions",
            sorted(ctx.cfg.profile.alert_emails),
            sorted(s["Endpoint"] for s in subscribed),
        )


def _rule_dlqs(view, ctx, findings) -> None:
    dlqs = {}
    for rule in view.of_type("AWS::Events::Rule"):
        for target in ctx.client("events").list_targets_by_rule(Rule=rule.physical_id)["Targets"]:
            if "DeadLetterConfig" in target:
                dlqs[target["DeadLetterConfig"]["Arn"].split(":")[-1]] = rule.physical_id
    config_queues = {queue_name(ctx.cfg, q) for q in (ctx.cfg.backtest_queue, ctx.cfg.backtest_dlq)}
    for queue in view.of_type("AWS::SQS::Queue"):
        name = queue.physical_id.rstrip("/").split("/")[-1]
        if name not in config_queues:
            findings.holds(
                queue.logical_id, f"{name} is the DLQ of rule {dlqs.get(name)}", name in dlqs, "no rule uses it"
            )


def _dashboards(view, ctx, findings) -> None:
    name = ctx.cfg.naming.name(DASHBOARD)
    for resource in view.of_type("AWS::CloudWatch::Dashboard"):
        body = ctx.client("cloudwatch").get_dashboard(DashboardName=resource.physical_id)["DashboardBody"]
        findings.expect(resource.logical_id, "name", name, resource.physical_id)
        absent = sorted(alarm for alarm in expected_alarms(ctx.cfg) if f':alarm:{alarm}"' not in body)
        findings.expect(resource.logical_id, "config alarms not on the dashboard", [], absent)
