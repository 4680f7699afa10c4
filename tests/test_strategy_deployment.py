"""Issue 14: the strategy deployment workflow, its deployer's rights, discovery and who may start it."""

from __future__ import annotations

import json

import spec
from cfn import as_list, ref, resources

# Trading mode -> (on-demand task, capacity provider of spec 2.2, Cloud Map port of spec 2.3).
MODES = {mode: (task, spec.ON_DEMAND_TASKS[task][2], spec.SERVICE_DISCOVERY[task])
         for mode, task in (("dry-run", "dry-run-trading"), ("live", "live-trading"))}


def _deployer(template, env):
    return next((key, props) for key, props in resources(template, "AWS::Lambda::Function").items()
                if props["FunctionName"] == f"tradai-strategy-deployer-{env}")


def _statements(template, role_id) -> list[dict]:
    return [s for props in resources(template, "AWS::IAM::Policy").values()
            if any(ref(r) == role_id for r in props["Roles"]) for s in props["PolicyDocument"]["Statement"]]


def _with_action(statements, action) -> list[dict]:
    return [s for s in statements if action in as_list(s["Action"])]


def _role_of_task(template, family):
    definition = next(p for p in resources(template, "AWS::ECS::TaskDefinition").values() if p["Family"] == family)
    return ref(definition["TaskRoleArn"]), ref(definition["ExecutionRoleArn"])


def _workflow(template, env):
    machine = next(p for p in resources(template, "AWS::StepFunctions::StateMachine").values()
                   if p["StateMachineName"] == f"tradai-strategy-deployment-{env}")
    text = "".join(p if isinstance(p, str) else "TOKEN" for p in machine["DefinitionString"]["Fn::Join"][1])
    return json.loads(text)


def test_workflow_prepares_starts_polls_and_activates_or_aborts(compute):
    env, template = compute
    definition = _workflow(template, env)
    states = definition["States"]
    assert definition["StartAt"] == "Begin"
    assert [states[s]["Next"] for s in ("Begin", "Prepare", "StartTask", "WaitForTask", "CheckTask")] == [
        "Prepare", "StartTask", "WaitForTask", "CheckTask", "TaskHealthy?"]
    choices = {c["StringEquals"]: c["Next"] for c in states["TaskHealthy?"]["Choices"]}
    assert choices == {"HEALTHY": "Activate", "FAILED": "TaskUnhealthy"}
    assert states["TaskHealthy?"]["Default"] == "WaitForTask"
    assert states["WaitForTask"]["Seconds"] == 15
    for step in ("Prepare", "StartTask", "CheckTask", "Activate"):
        assert states[step]["Catch"][0]["Next"] == "Abort", step
        assert states[step]["Parameters"]["step"] == step.removesuffix("Task").lower(), step
        assert states[step]["Parameters"]["deployment_id.$"] == "$$.Execution.Name", step
    assert states["Abort"]["Next"] == "DeploymentFailed"
    assert states["Activate"]["Next"] == "Deployed"
    assert definition["TimeoutSeconds"] == 45 * 60


def test_deployer_runs_exactly_the_two_trading_task_definitions_on_this_cluster(compute):
    env, template = compute
    _, fn = _deployer(template, env)
    granted = _statements(template, ref(fn["Role"]))
    (run,) = _with_action(granted, "ecs:RunTask")
    families = {json.dumps(r).split("task-definition/")[1].split(":")[0] for r in as_list(run["Resource"])}
    assert families == {f"strategy-{task}-{env}" for task, _, _ in MODES.values()}
    assert "ecs:cluster" in run["Condition"]["ArnEquals"]


def test_deployer_passes_exactly_the_trading_tasks_roles_to_ecs(compute):
    env, template = compute
    _, fn = _deployer(template, env)
    (passrole,) = _with_action(_statements(template, ref(fn["Role"])), "iam:PassRole")
    roles = {ref(r) for r in as_list(passrole["Resource"])}
    expected = {role for task, _, _ in MODES.values() for role in _role_of_task(template, f"strategy-{task}-{env}")}
    assert roles == expected
    assert passrole["Condition"] == {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}}


def test_deployer_registers_instances_only_in_the_two_trading_services(compute):
    env, template = compute
    _, fn = _deployer(template, env)
    services = {props["Name"]: key for key, props in resources(template, "AWS::ServiceDiscovery::Service").items()}
    granted = _statements(template, ref(fn["Role"]))
    for action in ("servicediscovery:RegisterInstance", "servicediscovery:DeregisterInstance"):
        (statement,) = _with_action(granted, action)
        assert {ref(r) for r in as_list(statement["Resource"])} == {services[t] for t, _, _ in MODES.values()}
    (zone,) = _with_action(granted, "route53:ChangeResourceRecordSets")
    assert "hostedzone/" in json.dumps(zone["Resource"])


def test_deployer_settings_name_each_modes_task_provider_service_and_port(compute):
    env, template = compute
    _, fn = _deployer(template, env)
    variables = fn["Environment"]["Variables"]
    text = json.dumps(variables["TRADING_MODES"])
    for mode, (task, provider, port) in MODES.items():
        assert f'\\"{mode}\\":{{\\"family\\":\\"strategy-{task}-{env}\\",\\"capacity_provider\\":\\"{provider}\\"' in text
        assert f'\\"port\\":{port}' in text
    assert variables["TRADAI_ENV"] == env
    assert variables["HEALTH_TIMEOUT_SECONDS"] == "600"
    assert "VpcConfig" not in fn  # only AWS APIs: it must work while the NAT is being replaced


def test_backend_api_may_start_only_the_deployment_workflow(compute):
    env, template = compute
    role_id = next(key for key in resources(template, "AWS::IAM::Role") if key.startswith("BackendApiTaskRole"))
    (start,) = _with_action(_statements(template, role_id), "states:StartExecution")
    machines = {key: p["StateMachineName"] for key, p in resources(template, "AWS::StepFunctions::StateMachine").items()}
    assert [machines[ref(r)] for r in as_list(start["Resource"])] == [f"tradai-strategy-deployment-{env}"]
    container = next(p for p in resources(template, "AWS::ECS::TaskDefinition").values()
                     if p["Family"] == f"tradai-backend-api-{env}")["ContainerDefinitions"][0]
    variables = {v["Name"]: v["Value"] for v in container["Environment"]}
    assert machines[ref(variables["STRATEGY_DEPLOYMENT_ARN"])] == f"tradai-strategy-deployment-{env}"


def test_only_the_live_trading_task_reads_the_binance_secret(compute):
    env, template = compute
    readers = set()
    for key, props in resources(template, "AWS::IAM::Policy").items():
        for statement in props["PolicyDocument"]["Statement"]:
            if "secretsmanager:GetSecretValue" in as_list(statement["Action"]) and \
                    "BinanceApi" in json.dumps(statement["Resource"]):
                readers.update(ref(r) for r in props["Roles"])
    definitions = {p["Family"]: p for p in resources(template, "AWS::ECS::TaskDefinition").values()}
    live = definitions[f"strategy-live-trading-{env}"]
    # The execution role injects the secret into the live container; no task role or other workload reads it.
    assert readers == {ref(live["ExecutionRoleArn"])}
    secrets = [s["Name"] for s in live["ContainerDefinitions"][0].get("Secrets", [])]
    assert secrets == ["BINANCE_API"]
    for family, definition in definitions.items():
        if family != f"strategy-live-trading-{env}":
            names = [s["Name"] for c in definition["ContainerDefinitions"] for s in c.get("Secrets", [])]
            assert "BINANCE_API" not in names, family


def test_trading_services_are_in_cloud_map_on_their_spec_ports(compute):
    env, template = compute
    services = {p["Name"]: p for p in resources(template, "AWS::ServiceDiscovery::Service").values()}
    for task, _, _ in MODES.values():
        assert services[task]["DnsConfig"]["DnsRecords"] == [{"TTL": 10, "Type": "A"}]
