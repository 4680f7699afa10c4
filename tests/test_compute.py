"""Spec sections 2.1-2.5, 6 and 10: the compute stack."""

import json

import pytest

import spec
from cfn import ref, resources, tags

# The executor backend-api runs backtests with (spec 2.4; docs/decisions.md "Executor mode": the workflow) and
# what each mode must be wired to: this test's table, not the config's.
EXECUTOR_MODE = {"dev": "stepfunctions", "staging": "stepfunctions", "prod": "stepfunctions"}
EXECUTOR_WIRING = {"ecs": {"ECS_CLUSTER", "ECS_TASK_PREFIX"},
                   "sqs": {"ECS_CLUSTER", "ECS_TASK_PREFIX", "SQS_QUEUE_URL"},
                   "stepfunctions": {"SQS_QUEUE_URL", "STEP_FUNCTIONS_ARN"}}
# docs/decisions.md (compute tier): one repository per image.
IMAGES = ("backend-api", "data-collection", "mlflow", "strategy-service", "strategy")


def _task_definitions(template):
    return {p["Family"]: p for p in resources(template, "AWS::ECS::TaskDefinition").values()}


def _services(template):
    return {p["ServiceName"]: (logical_id, p) for logical_id, p in resources(template, "AWS::ECS::Service").items()}


def _env(container):
    return {e["Name"]: e["Value"] for e in container.get("Environment", [])}


def test_cluster_with_container_insights_and_fargate_providers(compute):
    env, template = compute
    (cluster,) = resources(template, "AWS::ECS::Cluster").values()
    assert cluster["ClusterName"] == f"tradai-{env}"
    assert {"Name": "containerInsights", "Value": "enabled"} in cluster["ClusterSettings"]
    (associations,) = resources(template, "AWS::ECS::ClusterCapacityProviderAssociations").values()
    providers = [p if isinstance(p, str) else "EC2" for p in associations["CapacityProviders"]]
    assert {"FARGATE", "FARGATE_SPOT"} <= set(providers)
    assert ("EC2" in providers) is (spec.COMPUTE_MODE[env] == "ec2")


@pytest.mark.parametrize("name", spec.SERVICES)
def test_service_size_port_health_and_desired_count(compute, name):
    env, template = compute
    cpu, memory, port, health = spec.SERVICES[name]
    definition = _task_definitions(template)[f"tradai-{name}-{env}"]
    (container,) = definition["ContainerDefinitions"]
    assert container["PortMappings"] == [{"ContainerPort": port, "HostPort": port, "Protocol": "tcp"}]
    assert f"localhost:{port}{health}" in " ".join(container["HealthCheck"]["Command"])
    if spec.COMPUTE_MODE[env] == "fargate":
        assert (definition["Cpu"], definition["Memory"]) == (str(cpu), str(memory))
        assert definition["NetworkMode"] == "awsvpc" and definition["RequiresCompatibilities"] == ["FARGATE"]
    else:
        assert (container["Cpu"], container["Memory"]) == (cpu, memory)
        assert definition["NetworkMode"] == "bridge" and definition["RequiresCompatibilities"] == ["EC2"]
    _, service = _services(template)[f"tradai-{name}-{env}"]
    assert service["DesiredCount"] == spec.DESIRED_COUNT[env]
    assert service["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {"Enable": True, "Rollback": True}
    (strategy,) = service["CapacityProviderStrategy"]
    assert (strategy["CapacityProvider"] == "FARGATE") is (spec.COMPUTE_MODE[env] == "fargate")


def test_target_groups_exist_only_for_the_api_backed_services_with_their_spec_health_paths(compute):
    _, template = compute
    groups = {(g["Port"], g["HealthCheckPath"]) for g in resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup").values()}
    assert groups == {(port, health) for name, (_, _, port, health) in spec.SERVICES.items()
                      if name in spec.API_BACKED_SERVICES}


def test_alb_routes_mlflow_by_path_and_defaults_to_backend_api(compute):
    env, template = compute
    groups = {logical_id: p["Port"] for logical_id, p in resources(template, "AWS::ElasticLoadBalancingV2::TargetGroup").items()}
    (listener,) = resources(template, "AWS::ElasticLoadBalancingV2::Listener").values()
    (default,) = listener["DefaultActions"]
    assert groups[ref(default["TargetGroupArn"])] == spec.SERVICES["backend-api"][2]
    (mlflow_rule,) = resources(template, "AWS::ElasticLoadBalancingV2::ListenerRule").values()
    assert [c["Field"] for c in mlflow_rule["Conditions"]] == ["path-pattern"]
    assert mlflow_rule["Conditions"][0]["PathPatternConfig"]["Values"] == ["/mlflow", "/mlflow/*"]
    assert groups[ref(mlflow_rule["Actions"][0]["TargetGroupArn"])] == spec.SERVICES["mlflow"][2]


def test_no_listener_rule_reaches_a_service_by_header_or_without_an_api_path(compute):
    _, template = compute
    rules = resources(template, "AWS::ElasticLoadBalancingV2::ListenerRule")
    assert rules  # the MLflow rule at least; an empty loop would prove nothing
    for rule in rules.values():
        for condition in rule["Conditions"]:
            assert condition["Field"] == "path-pattern", condition
            assert all(v.startswith("/mlflow") for v in condition["PathPatternConfig"]["Values"])


def test_alb_is_internal_in_the_spec_subnets_and_sg_and_logs_to_the_logs_bucket(compute):
    env, template = compute
    (alb,) = resources(template, "AWS::ElasticLoadBalancingV2::LoadBalancer").values()
    assert alb["Scheme"] == "internal"  # only the API's VPC link reaches it (decision, issue: no way around the API)
    (listener,) = resources(template, "AWS::ElasticLoadBalancingV2::Listener").values()
    assert (listener["Port"], listener["Protocol"]) == (80, "HTTP")  # no certificate in any environment yet
    attributes = {a["Key"]: a["Value"] for a in alb["LoadBalancerAttributes"]}
    assert attributes["access_logs.s3.enabled"] == "true"
    assert attributes["access_logs.s3.bucket"] == f"tradai-logs-{env}"
    assert "SecurityGroupsAlb" in str(alb["SecurityGroups"])
    assert "Public1Subnet" in str(alb["Subnets"]) and "Public2Subnet" in str(alb["Subnets"])


def test_cdk_adds_no_rules_to_the_spec_security_groups(compute):
    _, template = compute
    assert resources(template, "AWS::EC2::SecurityGroupIngress") == {}
    assert resources(template, "AWS::EC2::SecurityGroupEgress") == {}
    assert resources(template, "AWS::EC2::SecurityGroup") == {}


def test_cloud_map_namespace_and_six_services(compute):
    env, template = compute
    (namespace,) = resources(template, "AWS::ServiceDiscovery::PrivateDnsNamespace").values()
    assert namespace["Name"] == f"tradai-{env}.local"
    names = {p["Name"] for p in resources(template, "AWS::ServiceDiscovery::Service").values()}
    assert names == set(spec.SERVICE_DISCOVERY)


def test_services_register_in_cloud_map_on_their_spec_port(compute):
    env, template = compute
    registries = {p["Name"]: logical_id for logical_id, p in resources(template, "AWS::ServiceDiscovery::Service").items()}
    for name in spec.SERVICES:
        _, service = _services(template)[f"tradai-{name}-{env}"]
        (registry,) = service["ServiceRegistries"]
        assert ref(registry["RegistryArn"]) == registries[name]
        if spec.COMPUTE_MODE[env] == "ec2":
            assert registry["ContainerPort"] == spec.SERVICE_DISCOVERY[name]


@pytest.mark.parametrize("name", spec.ON_DEMAND_TASKS)
def test_on_demand_task_definitions(compute, name):
    env, template = compute
    cpu, memory, launch_type = spec.ON_DEMAND_TASKS[name]
    family = f"{spec.ECS_TASK_PREFIX}{name.removeprefix(spec.ECS_TASK_PREFIX)}-{env}"
    definition = _task_definitions(template)[family]
    assert (definition["Cpu"], definition["Memory"]) == (str(cpu), str(memory))
    assert definition["RequiresCompatibilities"] == ["FARGATE"]
    assert tags(definition)["CapacityProvider"] == launch_type
    (container,) = definition["ContainerDefinitions"]
    variables = _env(container)
    assert spec.STRATEGY_ENV.items() <= variables.items()
    assert variables["DYNAMODB_TABLE"] == f"tradai-workflow-state-{env}"
    assert variables["S3_RESULTS_BUCKET"] == f"tradai-results-{env}"
    assert variables["ARCTICDB_S3_URI"] == f"s3://tradai-arcticdb-{env}"
    assert variables["MLFLOW_TRACKING_URI"] == f"http://mlflow.tradai-{env}.local:5000/mlflow"
    for per_run in ("JOB_ID", "STRATEGY", "STRATEGY_ID", "TRADING_MODE"):
        assert per_run not in variables


def test_no_on_demand_task_runs_as_a_service(compute):
    env, template = compute
    assert set(_services(template)) == {f"tradai-{name}-{env}" for name in spec.SERVICES}


def test_backend_api_executor_mode_and_its_wiring(compute):
    env, template = compute
    (container,) = _task_definitions(template)[f"tradai-backend-api-{env}"]["ContainerDefinitions"]
    variables = _env(container)
    mode = EXECUTOR_MODE[env]
    assert variables["BACKEND_EXECUTOR_MODE"] == mode
    wiring = {"ECS_CLUSTER", "ECS_TASK_PREFIX", "SQS_QUEUE_URL", "STEP_FUNCTIONS_ARN"}
    assert wiring & set(variables) == EXECUTOR_WIRING[mode]
    if "ECS_CLUSTER" in EXECUTOR_WIRING[mode]:
        assert variables["ECS_TASK_PREFIX"] == spec.ECS_TASK_PREFIX
        (cluster_id,) = resources(template, "AWS::ECS::Cluster")
        assert variables["ECS_CLUSTER"] == {"Fn::GetAtt": [cluster_id, "Arn"]}
    if "STEP_FUNCTIONS_ARN" in EXECUTOR_WIRING[mode]:
        assert ref(variables["STEP_FUNCTIONS_ARN"]) in resources(template, "AWS::StepFunctions::StateMachine")
    if "SQS_QUEUE_URL" in EXECUTOR_WIRING[mode]:
        queue_id = next(k for k, q in resources(template, "AWS::SQS::Queue").items()
                        if q["QueueName"] == f"tradai-backtest-queue-{env}.fifo")
        assert variables["SQS_QUEUE_URL"] == {"Ref": queue_id}


def test_backtest_queue_and_dlq(compute):
    env, template = compute
    queues = {q["QueueName"]: (logical_id, q) for logical_id, q in resources(template, "AWS::SQS::Queue").items()}
    dlq_id, dlq = queues[f"tradai-backtest-dlq-{env}.fifo"]
    _, queue = queues[f"tradai-backtest-queue-{env}.fifo"]
    assert {k: queue[k] for k in spec.BACKTEST_QUEUE} == spec.BACKTEST_QUEUE
    assert {k: dlq[k] for k in spec.BACKTEST_DLQ} == spec.BACKTEST_DLQ
    assert queue["RedrivePolicy"] == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
                                      "maxReceiveCount": spec.MAX_RECEIVE_COUNT}


def test_ecr_repositories_scan_on_push_and_are_retained(compute):
    env, template = compute
    repositories = {logical_id: resource for logical_id, resource in template["Resources"].items()
                    if resource["Type"] == "AWS::ECR::Repository"}
    assert sorted(r["Properties"]["RepositoryName"] for r in repositories.values()) == sorted(
        f"tradai-{image}-{env}" for image in IMAGES)
    for logical_id, resource in repositories.items():
        assert resource["DeletionPolicy"] == "RetainExceptOnCreate", logical_id
        assert resource["Properties"]["ImageScanningConfiguration"] == {"ScanOnPush": True}
        assert "LifecyclePolicy" in resource["Properties"]


def test_shared_host_is_one_t3_small_in_the_private_subnets(compute):
    env, template = compute
    groups = resources(template, "AWS::AutoScaling::AutoScalingGroup")
    if spec.COMPUTE_MODE[env] == "fargate":
        assert groups == {}
        return
    (group,) = groups.values()
    assert (group["MinSize"], group["MaxSize"]) == ("1", "1")
    assert "Private1Subnet" in str(group["VPCZoneIdentifier"]) and "Public" not in str(group["VPCZoneIdentifier"])
    (launch_template,) = resources(template, "AWS::EC2::LaunchTemplate").values()
    data = launch_template["LaunchTemplateData"]
    assert data["InstanceType"] == spec.CONSOLIDATED_INSTANCE
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert "/aws/service/ecs/optimized-ami/" in str(template["Parameters"])


def test_services_fit_on_the_shared_host(compute):
    """Placement proof: what the four services reserve fits what a t3.small offers ECS."""
    env, template = compute
    if spec.COMPUTE_MODE[env] == "fargate":
        pytest.skip(f"spec 10: {env} runs the services on Fargate, there is no shared host")
    definitions = _task_definitions(template)
    containers = [definitions[f"tradai-{name}-{env}"]["ContainerDefinitions"][0] for name in spec.SERVICES]
    reserved_memory = sum(c["MemoryReservation"] for c in containers)
    reserved_cpu = sum(c["Cpu"] for c in containers)
    kernel_and_agent = 150 + 256  # kernel/firmware share of 2 GiB + ECS_RESERVED_MEMORY (user data)
    assert reserved_memory <= spec.T3_SMALL["memory_mib"] - kernel_and_agent
    assert reserved_cpu <= spec.T3_SMALL["vcpus"] * 1024
    # Hard limits stay the spec's memory; bridge mode uses the host's one ENI, not one per task.
    assert sum(c["Memory"] for c in containers) > spec.T3_SMALL["memory_mib"]
    assert all(d["NetworkMode"] == "bridge" for d in (definitions[f"tradai-{n}-{env}"] for n in spec.SERVICES))
    (launch_template,) = resources(template, "AWS::EC2::LaunchTemplate").values()
    assert "ECS_RESERVED_MEMORY=256" in str(launch_template["LaunchTemplateData"]["UserData"])


def test_image_repositories_have_immutable_tags(compute):
    _, template = compute
    repositories = resources(template, "AWS::ECR::Repository")
    assert repositories
    for props in repositories.values():
        assert props["ImageTagMutability"] == "IMMUTABLE", props["RepositoryName"]


def test_every_container_runs_the_image_tag_given_at_synth(compute):
    _, template = compute
    from conftest import IMAGE_TAG
    definitions = resources(template, "AWS::ECS::TaskDefinition")
    assert definitions
    for props in definitions.values():
        for container in props["ContainerDefinitions"]:
            assert json.dumps(container["Image"]).endswith(f':{IMAGE_TAG}"]]}}'), props["Family"]
