"""The Control Tower plugin: cfn-guard's bundled rules, only those that can apply to a template, run in parallel and
cached per template, with the plugin's own reading of cfn-guard's output."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import jsii
import pytest
from aws_cdk import aws_logs as logs

from conftest import ROOT
from tradai_cdk import result_cache
from tradai_cdk.control_tower import ControlTowerGuard, applicable_rules, bundle, plugin, rule_types, template_types
from tradai_cdk.control_tower.report import GuardOutputError, violations
from tradai_cdk.result_cache import cache_key

RETENTION_RULE = "cloudwatch_log_group_retention_period_check"  # CT.CLOUDWATCH.PR.2: at least 365 days
AGREED = ROOT / ".cache" / "cfn-guard-agreement"


@jsii.implements(cdk.IPolicyValidationContextBeta1)
class Templates:
    """A validation context naming these templates, as CDK hands one to a plugin."""

    def __init__(self, *paths: Path) -> None:
        self._paths = [str(path) for path in paths]

    @property
    def template_paths(self) -> list[str]:
        return self._paths


def findings(report) -> list[tuple]:
    """A report's violations, comparable across plugins: rule, texts, and each resource with its locations."""
    return sorted(
        (v.rule_name, v.description, v.fix, tuple(sorted((r.template_path, r.resource_logical_id, tuple(r.locations))
                                                          for r in v.violating_resources)))
        for v in report.violations
    )


def probe_template(tmp_path: Path, retention_days: int, name: str = "probe.template.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"Resources": {"Logs": {"Type": "AWS::Logs::LogGroup",
                                                       "Properties": {"RetentionInDays": retention_days}}}}))
    return path


# --- which rules run ---------------------------------------------------------------------------------------------

def test_every_bundled_rule_file_names_the_resource_types_it_checks():
    rules = rule_types()
    assert len(rules) == 237  # cdk-validator-cfnguard 0.0.62's Control Tower rules
    assert all(types for types in rules.values())
    assert "AWS::S3::Bucket" in rules["ct-s3-pr-1"]


def test_only_rules_about_present_types_run():
    kept = set(applicable_rules({"AWS::S3::Bucket"}))
    assert kept == {rule for rule, types in rule_types().items() if "AWS::S3::Bucket" in types}
    assert applicable_rules(set()) == []


def test_the_app_keeps_the_rules_for_its_own_types(synthesized):
    types = template_types(str(stack.template_path) for stack in synthesized.values())
    kept = set(applicable_rules(types))
    for resource_type in ("AWS::S3::Bucket", "AWS::RDS::DBInstance", "AWS::Logs::LogGroup", "AWS::ECS::TaskDefinition",
                          "AWS::Lambda::Function", "AWS::KMS::Key", "AWS::EC2::SecurityGroup"):
        assert any(resource_type in rule_types()[rule] for rule in kept), resource_type
    assert len(kept) < len(rule_types())


# --- the same findings as the plugin ------------------------------------------------------------------------------

@pytest.mark.parametrize(("env", "stack"), [("prod", "persistent"), ("prod", "edge"), ("dev", "foundation")])
def test_findings_equal_the_cfn_guard_plugins_own(synthesized, env, stack):
    """The port of the plugin's output reading (report.py) and the slicing (slicing.py) against the plugin itself,
    with all its rules, on real templates with findings (all twelve were compared when they were written). Dev's
    foundation has a Lambda permission whose SourceArn names an events rule: without the slices' stubs of referenced
    resources, CT.LAMBDA.PR.2 reports a finding the whole template does not have."""
    template = synthesized[(env, stack)].template_path
    # An agreement is remembered by the hash of all it depends on (as cfn-lint's passes are): the template, the
    # plugin's tarball (its binary, rules and JavaScript), our runner's code and this test; a difference never is.
    agreed = AGREED / cache_key(bundle.fingerprint().encode(), plugin._code_fingerprint().encode(),
                                Path(__file__).read_bytes(), template.read_bytes())
    if agreed.is_file():
        return
    from cdklabs.cdk_validator_cfnguard import CfnGuardValidator  # loads the plugin into jsii: only when comparing

    context = Templates(template)
    bundled = CfnGuardValidator(control_tower_rules_enabled=True, max_buffer=64 * 1024 * 1024)  # its default: 1 MB
    theirs = bundled.validate(context)
    ours = ControlTowerGuard(results_dir=None).validate(context)
    assert findings(theirs), "these templates have acknowledged findings to compare"
    assert findings(ours) == findings(theirs)
    assert ours.success == theirs.success
    assert {v.severity for v in ours.violations} == {"error"}
    agreed.parent.mkdir(parents=True, exist_ok=True)
    agreed.touch()


def test_a_short_retention_is_one_violation_naming_the_resource_and_the_fix(tmp_path):
    template = probe_template(tmp_path, retention_days=30)
    report = ControlTowerGuard(results_dir=None).validate(Templates(template))
    (violation,) = [v for v in report.violations if v.rule_name == RETENTION_RULE]
    assert not report.success
    assert violation.description.startswith("[CT.CLOUDWATCH.PR.2]")
    assert "365" in violation.fix
    ((resource),) = violation.violating_resources
    assert (resource.resource_logical_id, resource.template_path) == ("Logs", str(template))
    assert set(resource.locations) == {"/Resources/Logs/Properties/RetentionInDays"}


def test_a_compliant_template_passes(tmp_path):
    report = ControlTowerGuard(results_dir=None).validate(
        Templates(probe_template(tmp_path, retention_days=365)))
    assert RETENTION_RULE not in {v.rule_name for v in report.violations}


# --- synth fails on an unacknowledged finding, passes on an acknowledged one --------------------------------------

def probe_app(tmp_path: Path, acknowledge: bool) -> cdk.App:
    """A one-log-group app checked by the guard alone (CDK's built-in validation would add ~3 s of engine start)."""
    app = cdk.App(outdir=str(tmp_path / "cdk.out"), builtin_cloud_formation_validation=False)
    stack = cdk.Stack(app, "Probe", env=cdk.Environment(account="123456789012", region="eu-central-1"))
    group = logs.CfnLogGroup(stack, "Logs", retention_in_days=30)
    if acknowledge:
        cdk.Validations.of(stack).acknowledge(cdk.Acknowledgment(id=f"cdk-validator-cfnguard::{RETENTION_RULE}",
                                                                 reason="probe"))
        cdk.Validations.of(group).acknowledge(cdk.Acknowledgment(
            id="cdk-validator-cfnguard::cloudwatch_log_group_encrypted_check", reason="probe"))
    cdk.Validations.of(app).add_plugins(ControlTowerGuard(results_dir=None))
    return app


def test_an_unacknowledged_finding_fails_synth(tmp_path):
    with pytest.raises(RuntimeError, match=rf"(?s)ValidationFailed.*{RETENTION_RULE}"):
        probe_app(tmp_path, acknowledge=False).synth()


def test_acknowledged_findings_let_synth_pass(tmp_path):
    probe_app(tmp_path, acknowledge=True).synth()


# --- the result cache ----------------------------------------------------------------------------------------------

def test_an_unchanged_template_reuses_its_result_without_running_cfn_guard(tmp_path, monkeypatch):
    template = probe_template(tmp_path, retention_days=30)
    first = ControlTowerGuard(results_dir=tmp_path).validate(Templates(template))
    monkeypatch.setattr(plugin, "_run", lambda *_: pytest.fail("cfn-guard ran for a cached template"))
    again = ControlTowerGuard(results_dir=tmp_path).validate(Templates(template))
    assert findings(again) == findings(first) and not again.success


def test_a_changed_template_is_checked_again(tmp_path):
    template = probe_template(tmp_path, retention_days=30)
    guard = ControlTowerGuard(results_dir=tmp_path)
    assert RETENTION_RULE in {v.rule_name for v in guard.validate(Templates(template)).violations}
    probe_template(tmp_path, retention_days=365)
    assert RETENTION_RULE not in {v.rule_name for v in guard.validate(Templates(template)).violations}


def test_results_are_neither_kept_nor_reused_without_a_results_dir(tmp_path, monkeypatch):
    template = probe_template(tmp_path, retention_days=30)
    ControlTowerGuard(results_dir=tmp_path / "results").validate(Templates(template))
    runs = []
    monkeypatch.setattr(plugin, "_run", lambda *args: runs.append(args) or (True, []))
    ControlTowerGuard(results_dir=None).validate(Templates(template))
    assert len(runs) == 1


def test_the_cache_switch_reads_the_environment(monkeypatch):
    monkeypatch.setenv(result_cache.SWITCH, "0")
    assert not result_cache.enabled()
    monkeypatch.delenv(result_cache.SWITCH)
    assert result_cache.enabled()


# --- failures are loud ---------------------------------------------------------------------------------------------

def test_a_cfn_guard_failure_names_the_template_and_its_error(tmp_path, monkeypatch):
    failing = tmp_path / "cfn-guard"
    failing.write_text("#!/bin/sh\necho 'Error occurred: rules do not parse' >&2\nexit 255\n")
    failing.chmod(0o755)
    _, rule_files = plugin.bundle.unpack(plugin.CACHE_DIR)
    monkeypatch.setattr(plugin.bundle, "unpack", lambda _: (failing, rule_files))
    with pytest.raises(RuntimeError, match=r"cfn-guard exited 255 on .*probe\.template\.json: .*rules do not parse"):
        ControlTowerGuard(results_dir=None).check([str(probe_template(tmp_path, 30))])


def test_output_that_is_not_json_is_a_clear_error():
    with pytest.raises(GuardOutputError, match="not JSON"):
        violations("thread 'main' panicked")


def test_a_finding_outside_any_resource_cannot_be_acknowledged_so_it_fails():
    output = [{"name": "t.json", "not_compliant": [{"Rule": {"name": "some_check", "checks": [
        {"Clause": {"Unary": {"check": {"UnResolved": {"value": {"traversed_to": {"path": "/Resources", "value": {}}}}},
                              "messages": {"custom_message": "[FIX]: x", "error_message": None}}}}]}}]}]
    with pytest.raises(GuardOutputError, match=r"some_check reports '/Resources', which is no resource"):
        violations(json.dumps(output))


def test_nested_rule_checks_carry_their_rules_message():
    """A rule calling a named rule: the inner rule's custom message is the description and fix."""
    clause = {"Clause": {"Unary": {"check": {"UnResolved": {"value": {
        "traversed_to": {"path": "/Resources/Queue/Properties", "value": {}}}}},
        "messages": {"custom_message": "", "error_message": "missing"}}}}
    inner = {"Rule": {"name": "check", "messages": {"custom_message": "\n [CT.X.PR.1]: Require y\n [FIX]: Set y\n",
                                                    "error_message": None}, "checks": [clause]}}
    output = [{"name": "t.json", "not_compliant": [{"Rule": {"name": "y_check", "messages": {}, "checks": [inner]}}]}]
    compliant, found = violations(json.dumps(output))
    assert not compliant
    assert found == [{"ruleName": "y_check", "description": "[CT.X.PR.1]: Require y", "fix": "Set y",
                      "resources": {"Queue": ["/Resources/Queue/Properties"]}}]


# --- started early, collected by validate ------------------------------------------------------------------------

def test_a_started_check_is_collected_by_validate(tmp_path, monkeypatch):
    template = probe_template(tmp_path, retention_days=30)
    guard = ControlTowerGuard(results_dir=None)
    guard.start([str(template)])
    started = guard._started[1].result()
    monkeypatch.setattr(guard, "check", lambda _: pytest.fail("checked again"))
    report = guard.validate(Templates(template))
    assert RETENTION_RULE in {v.rule_name for v in report.violations}
    assert started[str(template)][0] is False


def test_validate_checks_anew_when_other_templates_were_started(tmp_path):
    started, asked = probe_template(tmp_path, 365, "started.template.json"), probe_template(tmp_path, 30)
    guard = ControlTowerGuard(results_dir=None)
    guard.start([str(started)])
    report = guard.validate(Templates(asked))
    assert {r.template_path for v in report.violations for r in v.violating_resources} == {str(asked)}
