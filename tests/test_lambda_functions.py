"""Spec 7: all 18 functions, in every environment, with exactly their memory, timeout, VPC and trigger."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

import spec
from cfn import ref, resources

STACKS_WITH_FUNCTIONS = ("foundation", "compute")
STATE_MACHINE = "AWS::StepFunctions::StateMachine"
ALL_LAMBDAS = {**spec.LAMBDAS, **spec.ADDED_LAMBDAS}
# The one code asset every function shares: the handler families and their shared utilities (lambda_src/).
HANDLER_PACKAGES = {"backtest", "deployments", "ml_lifecycle", "nat_routes", "operations", "shared"}
RUNTIME_TAG = "cpython-311"  # spec 7: python3.11 (the interpreter that synthesizes is the same minor version)
CHECKED_HASH = 0b11  # PEP 552 flags: hash-based, check the source


def _located(synthesized, env, spec_name):
    """(template, logical id, properties) of the function that implements a spec 7 row."""
    name = f"{spec.FUNCTION_RENAMES.get(spec_name, spec_name)}-{env}"
    found = [(synthesized[(env, stack)].json, logical_id, props)
             for stack in STACKS_WITH_FUNCTIONS
             for logical_id, props in resources(synthesized[(env, stack)].json, "AWS::Lambda::Function").items()
             if props["FunctionName"] == name]
    assert len(found) == 1, f"{name}: found {len(found)} functions"
    return found[0]


def _rate(trigger: str) -> str:
    """"EventBridge (12 hours)" -> "rate(12 hours)"; the spec's time basis is kept."""
    number, unit = re.fullmatch(r"EventBridge \((\d+) (min|hours)\)", trigger).groups()
    return f"rate({number} {'minutes' if unit == 'min' else unit})"


def _targets(template, logical_id):
    """Rules whose targets invoke the function."""
    return [rule for rule in resources(template, "AWS::Events::Rule").values()
            if any(ref(target["Arn"]) == logical_id for target in rule.get("Targets", []))]


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_the_18_spec_functions_and_the_recorded_additions_exist_once_per_environment(env, synthesized):
    names = [props["FunctionName"] for stack in STACKS_WITH_FUNCTIONS
             for props in resources(synthesized[(env, stack)].json, "AWS::Lambda::Function").values()]
    expected = {f"{spec.FUNCTION_RENAMES.get(n, n)}-{env}" for n in [*spec.LAMBDAS, *spec.ADDED_LAMBDAS]}
    assert sorted(names) == sorted(expected)


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
@pytest.mark.parametrize("spec_name", sorted(ALL_LAMBDAS))
def test_function_has_its_spec_7_memory_timeout_runtime_and_vpc(env, spec_name, synthesized):
    memory, timeout, in_vpc, _ = ALL_LAMBDAS[spec_name]
    _, _, fn = _located(synthesized, env, spec_name)
    assert (fn["Runtime"], fn["MemorySize"], fn["Timeout"]) == (spec.LAMBDA_RUNTIME, memory, timeout)
    assert ("VpcConfig" in fn) is in_vpc
    if in_vpc:
        (group,) = fn["VpcConfig"]["SecurityGroupIds"]
        assert "Lambda" in json.dumps(group)  # tradai-lambda-sg
        assert len(fn["VpcConfig"]["SubnetIds"]) == 2  # Private-1 and Private-2


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
@pytest.mark.parametrize("spec_name", sorted(ALL_LAMBDAS))
def test_function_is_triggered_as_spec_7_says(env, spec_name, synthesized):
    trigger = ALL_LAMBDAS[spec_name][3]
    template, logical_id, _ = _located(synthesized, env, spec_name)
    rules = _targets(template, logical_id)
    if trigger == "SQS":
        mappings = [m for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
                    if ref(m["FunctionName"]) == logical_id]
        assert len(mappings) == 1 and "Queue" in json.dumps(mappings[0]["EventSourceArn"])
    elif trigger.startswith("EventBridge"):
        assert [rule["ScheduleExpression"] for rule in rules] == [_rate(trigger)]
    elif trigger == "Step Functions":
        definitions = [json.dumps(props["DefinitionString"]) for props in resources(template, STATE_MACHINE).values()]
        assert any(f'"{logical_id}"' in definition for definition in definitions)
        assert rules == []
    elif trigger == "Backend API":
        backend_role = next(props for key, props in resources(template, "AWS::IAM::Role").items()
                            if key.startswith("BackendApiTaskRole"))
        assert backend_role  # the grant itself is checked in test_operations
        assert rules == []
    else:  # ASG Lifecycle (plus the scheduled route audit, see test_nat_instance)
        patterns = [rule["EventPattern"]["detail-type"] for rule in rules if "EventPattern" in rule]
        assert patterns == [["EC2 Instance-launch Lifecycle Action"]]


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
@pytest.mark.parametrize("spec_name", sorted(ALL_LAMBDAS))
def test_function_logs_to_its_own_group_with_the_environment_retention(env, spec_name, synthesized):
    template, _, fn = _located(synthesized, env, spec_name)
    log_group = resources(template, "AWS::Logs::LogGroup")[ref(fn["LoggingConfig"]["LogGroup"])]
    assert log_group["LogGroupName"] == f"/aws/lambda/{fn['FunctionName']}"
    assert log_group["RetentionInDays"] == spec.LOG_RETENTION_DAYS[env]
    assert fn["TracingConfig"] == {"Mode": "Active"}


def code_asset(synthesized) -> Path:
    (outdir,) = {stack.template_path.parent.parent for stack in synthesized.values()}
    (asset,) = [d for d in outdir.glob("asset.*") if (d / "shared" / "__init__.py").is_file()]
    return asset


def test_the_code_asset_ships_handler_packages_only(synthesized):
    """No tool cache (.mypy_cache, .ruff_cache...), stray bytecode or test file is deployed with the handlers."""
    asset = code_asset(synthesized)
    shipped = [path.relative_to(asset) for path in asset.rglob("*")]
    assert {path.parts[0] for path in shipped} == HANDLER_PACKAGES
    assert [p for p in shipped if any(part.startswith(".") for part in p.parts)] == []
    sources = {p for p in shipped if p.suffix == ".py"}
    assert all(p.parent.name != "__pycache__" or p.suffix == ".pyc" for p in shipped)
    assert {p.parent.parent / f"{p.name.split('.')[0]}.py" for p in shipped if p.suffix == ".pyc"} <= sources


def test_every_handler_module_ships_bytecode_the_runtime_uses(synthesized):
    """Lambda's code directory is read-only: without shipped bytecode each cold start compiles every module of ours.
    Hash-checked bytecode for the runtime's interpreter (python3.11, spec 7) of each source, matching it."""
    asset = code_asset(synthesized)
    for source in asset.rglob("*.py"):
        compiled = source.parent / "__pycache__" / f"{source.stem}.{RUNTIME_TAG}.pyc"
        header = compiled.read_bytes()[:16]
        assert header[:4] == importlib.util.MAGIC_NUMBER, compiled
        assert int.from_bytes(header[4:8], "little") == CHECKED_HASH, compiled
        assert header[8:16] == importlib.util.source_hash(source.read_bytes()), compiled
