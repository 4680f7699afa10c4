"""CDK's built-in CloudFormation validation, registered by the app with each template's result reused: the same
findings and acknowledgement ids as the automatic registration, no plugin start when every result is stored."""

from __future__ import annotations

from pathlib import Path

import aws_cdk as cdk
import jsii
import pytest
from aws_cdk import aws_sqs as sqs

from tradai_cdk import cloudformation_validate
from tradai_cdk.cloudformation_validate import CachedCloudFormationValidate, _as_dict

BAD_RETENTION = 10  # MessageRetentionPeriod must be 60..1209600 seconds: a schema error (F3034)
STRICT = {"@aws-cdk/core:validateAgainstDefaultRules": True}  # cdk.json sets it: findings are errors, not warnings


@jsii.implements(cdk.IPolicyValidationContext)
class Stacks:
    def __init__(self, *stacks: cdk.PolicyValidationStack) -> None:
        self._stacks = list(stacks)

    @property
    def stack_templates(self) -> list[cdk.PolicyValidationStack]:
        return self._stacks

    @property
    def template_paths(self) -> list[str]:
        return [stack.template_path for stack in self._stacks]


def stack_of(template: Path, path: str = "TradaiDev/Foundation") -> cdk.PolicyValidationStack:
    return cdk.PolicyValidationStack(stack_construct_path=path, template_path=str(template),
                                     account_id="123456789012", region="eu-central-1")


def findings(report) -> list[dict]:
    return sorted((_as_dict(v) for v in report.violations), key=repr)


def probe_app(tmp_path: Path, retention: int, acknowledge: bool = False) -> cdk.App:
    app = cdk.App(outdir=str(tmp_path / "cdk.out"), context=STRICT, builtin_cloud_formation_validation=False)
    stack = cdk.Stack(app, "Probe", env=cdk.Environment(account="123456789012", region="eu-central-1"))
    queue = sqs.CfnQueue(stack, "Queue", message_retention_period=retention)
    if acknowledge:
        cdk.Validations.of(queue).acknowledge(cdk.Acknowledgment(id="CloudFormation-Validate::F3034", reason="probe"))
    cdk.Validations.of(app).add_plugins(CachedCloudFormationValidate(results_dir=tmp_path / "results"))
    return app


def test_findings_equal_the_builtin_plugins_own(synthesized, tmp_path):
    """Dev's foundation template has the pinned-AZ warnings (W3010) acknowledged in nag.py."""
    context = Stacks(stack_of(synthesized[("dev", "foundation")].template_path))
    theirs = cloudformation_validate._engine().validate(context)  # the plugin itself, called directly
    ours = CachedCloudFormationValidate(results_dir=tmp_path).validate(context)
    assert findings(theirs) and findings(ours) == findings(theirs)
    assert ours.success == theirs.success


def test_a_schema_error_fails_synth_under_the_builtin_name(tmp_path):
    with pytest.raises(RuntimeError, match=r"(?s)ValidationFailed.*CloudFormation Validate"):
        probe_app(tmp_path, BAD_RETENTION).synth()


def test_an_acknowledged_finding_lets_synth_pass(tmp_path):
    probe_app(tmp_path, BAD_RETENTION, acknowledge=True).synth()


def test_a_stored_result_is_reused_without_starting_the_plugin(tmp_path, monkeypatch):
    probe_app(tmp_path / "first", BAD_RETENTION, acknowledge=True).synth()
    template = next((tmp_path / "first" / "cdk.out").glob("Probe.template.json"))
    context = Stacks(stack_of(template, "Probe"))
    first = CachedCloudFormationValidate(results_dir=tmp_path / "first" / "results").validate(context)
    monkeypatch.setattr(cloudformation_validate, "_engine", lambda: pytest.fail("the plugin was asked"))
    again = CachedCloudFormationValidate(results_dir=tmp_path / "first" / "results").validate(context)
    assert findings(again) == findings(first) and not again.success


def test_a_changed_template_is_validated_again(tmp_path):
    probe_app(tmp_path, 60).synth()
    template = tmp_path / "cdk.out" / "Probe.template.json"
    plugin = CachedCloudFormationValidate(results_dir=tmp_path / "results")
    assert plugin.validate(Stacks(stack_of(template, "Probe"))).success
    template.write_text(template.read_text().replace('"MessageRetentionPeriod": 60', f'"MessageRetentionPeriod": {BAD_RETENTION}'))
    assert str(BAD_RETENTION) in template.read_text()
    assert not plugin.validate(Stacks(stack_of(template, "Probe"))).success


def test_cdk_validation_false_turns_it_off(monkeypatch):
    monkeypatch.setenv("CDK_VALIDATION", "false")
    assert not cloudformation_validate.enabled()
    monkeypatch.delenv("CDK_VALIDATION")
    assert cloudformation_validate.enabled()


def test_the_template_paths_are_handed_over_first(tmp_path):
    """The app starts cfn-guard there, so that its processes run while this plugin and cdk-nag run in node."""
    probe_app(tmp_path, 60).synth()
    template = tmp_path / "cdk.out" / "Probe.template.json"
    handed: list[list[str]] = []
    CachedCloudFormationValidate(results_dir=None, before=handed.append).validate(Stacks(stack_of(template, "Probe")))
    assert handed == [[str(template)]]


def test_the_app_starts_cfn_guard_before_the_other_validations(tmp_path, monkeypatch):
    from tradai_cdk.app import add_validations
    from tradai_cdk.control_tower import plugin as guard_plugin

    calls: list[str] = []
    start, validate = guard_plugin.ControlTowerGuard.start, guard_plugin.ControlTowerGuard.validate
    monkeypatch.setattr(guard_plugin.ControlTowerGuard, "start",
                        lambda self, paths: calls.append("start") or start(self, paths))
    monkeypatch.setattr(guard_plugin.ControlTowerGuard, "validate",
                        lambda self, context: calls.append("validate") or validate(self, context))
    app = cdk.App(outdir=str(tmp_path), context=STRICT, builtin_cloud_formation_validation=False)
    cdk.CfnWaitConditionHandle(cdk.Stack(app, "Probe"), "Handle")
    add_validations(app)
    app.synth()
    assert calls == ["start", "validate"]
