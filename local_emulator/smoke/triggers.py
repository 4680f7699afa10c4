"""Every stack: each EventBridge rule invokes the config function it is for (a schedule at the config's
rate, the NAT launch hook's event for the route function), each Lambda permission lets exactly that rule
invoke it, and each asynchronous-invocation config belongs to a config function invoked asynchronously."""

from __future__ import annotations

import json

from tradai_cdk.config import TradaiConfig

from .model import CheckContext, Findings, StackView

ASYNC_TRIGGERS = ("schedule", "asg-lifecycle")  # EventBridge invokes these functions asynchronously
LAUNCH_ACTION = "EC2 Instance-launch Lifecycle Action"
EVENTS = "events.amazonaws.com"


def rate(minutes: int) -> str:
    """EventBridge's rate expression for a period in minutes, in the largest whole unit."""
    count, unit = next((minutes // n, u) for n, u in ((1440, "day"), (60, "hour"), (1, "minute")) if minutes % n == 0)
    return f"rate({count} {unit}{'s' if count != 1 else ''})"


def _schedules(cfg: TradaiConfig) -> dict[str, str]:
    """Function name -> the rate its schedule rule must have."""
    found = {cfg.function_name(s.name): rate(s.schedule_minutes) for s in cfg.lambdas if s.schedule_minutes}
    return {**found, cfg.function_name(cfg.nat.route_function): rate(cfg.nat.route_audit_minutes)}


def check(view: StackView, ctx: CheckContext, findings: Findings) -> None:
    cfg, events, lam = ctx.cfg, ctx.client("events"), ctx.client("lambda")
    schedules, specs = _schedules(cfg), {cfg.function_name(s.name): s for s in cfg.lambdas}
    rule_arns = {}
    for rule in view.of_type("AWS::Events::Rule"):
        described = events.describe_rule(Name=rule.physical_id)
        rule_arns[rule.logical_id] = described["Arn"]
        targets = [
            t["Arn"].split(":function:")[-1] for t in events.list_targets_by_rule(Rule=described["Name"])["Targets"]
        ]
        if len(targets) != 1 or targets[0] not in specs:
            findings.fail(rule.logical_id, "target", "one config function", targets)
            continue
        function = targets[0]
        findings.expect(rule.logical_id, f"state (invokes {function})", "ENABLED", described["State"])
        if "ScheduleExpression" in described:
            findings.expect(rule.logical_id, "schedule", schedules.get(function), described["ScheduleExpression"])
        else:
            pattern = json.loads(described["EventPattern"])
            expected = (LAUNCH_ACTION, cfg.naming.name("nat-asg"), "asg-lifecycle")
            actual = (
                (pattern.get("detail-type") or [None])[0],
                (pattern.get("detail", {}).get("AutoScalingGroupName") or [None])[0],
                specs[function].trigger,
            )
            findings.expect(rule.logical_id, "event (detail type, group, function trigger)", expected, actual)
    for permission in view.of_type("AWS::Lambda::Permission"):
        source = permission.properties.get("SourceArn", {})
        source_rule = (source.get("Fn::GetAtt") or [None])[0] if isinstance(source, dict) else None
        if source_rule not in rule_arns:
            findings.not_kept(permission.logical_id, "grant (its source is not an EventBridge rule of the stack)")
            continue
        function = view.resolve(permission.properties["FunctionName"]).split(":function:")[-1]
        policy = json.loads(lam.get_policy(FunctionName=function)["Policy"])
        grants = [
            s
            for s in policy["Statement"]
            if s.get("Principal", {}).get("Service") == EVENTS
            and s.get("Condition", {}).get("ArnLike", {}).get("AWS:SourceArn") == rule_arns[source_rule]
        ]
        findings.holds(
            permission.logical_id, f"{function} invocable by rule {rule_arns[source_rule]} only", len(grants) == 1
        )
    for config in view.of_type("AWS::Lambda::EventInvokeConfig"):
        function = config.physical_id.split(":")[0]
        described = lam.get_function_event_invoke_config(FunctionName=function)
        spec = specs.get(described["FunctionArn"].split(":function:")[-1].split(":")[0])
        findings.expect(
            config.logical_id,
            f"async invoke settings of {function} (trigger)",
            "asynchronous",
            "asynchronous" if spec and spec.trigger in ASYNC_TRIGGERS else getattr(spec, "trigger", None),
        )
