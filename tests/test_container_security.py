"""Issue 15: every container runs non-root on a read-only root filesystem with only its scratch paths writable,
all capabilities dropped and an init process; the database has enhanced monitoring and Performance Insights."""

from __future__ import annotations

import pytest

import spec
from cfn import resources

FREQTRADE = ["/tmp", "/freqtrade/user_data/backtest_results", "/freqtrade/user_data/data",
             "/freqtrade/user_data/logs", "/freqtrade/user_data/models"]
# Family (without -env) -> the only paths its container may write (this test's table).
WRITABLE = {
    "tradai-backend-api": ["/tmp"], "tradai-data-collection": ["/tmp"], "tradai-mlflow": ["/tmp"],
    "tradai-strategy-service": ["/tmp"], "strategy-container": FREQTRADE, "strategy-live-trading": FREQTRADE,
    "strategy-dry-run-trading": FREQTRADE,
}
SHARED_HOST_ENVS = ("dev", "staging")  # spec 10: consolidated EC2 host (bridge mode), prod is Fargate


def _containers(template) -> list:
    """(family without -env, task definition, container) of every container; never empty."""
    found = [(props["Family"].rsplit("-", 1)[0], props, container)
             for props in resources(template, "AWS::ECS::TaskDefinition").values()
             for container in props["ContainerDefinitions"]]
    assert found, "no containers synthesized: the checks below would pass on nothing"
    return found


def test_every_task_definition_is_covered_by_the_table(compute):
    _, template = compute
    assert sorted(family for family, _, _ in _containers(template)) == sorted(WRITABLE)


def test_containers_run_as_a_non_root_user(compute):
    _, template = compute
    for family, _, container in _containers(template):
        assert container["User"] == "1000:1000", family


def test_root_filesystem_is_read_only_and_only_the_declared_paths_are_writable(compute):
    _, template = compute
    for family, definition, container in _containers(template):
        assert container["ReadonlyRootFilesystem"] is True, family
        mounts = container.get("MountPoints", [])
        assert [m["ContainerPath"] for m in mounts] == WRITABLE[family], family
        assert all(m["ReadOnly"] is False for m in mounts)
        volumes = {v["Name"]: v for v in definition["Volumes"]}
        for mount in mounts:  # task-scoped scratch, never a host path
            assert "Host" not in volumes[mount["SourceVolume"]], family


def test_capabilities_dropped_init_process_and_no_privileges(compute):
    env, template = compute
    for family, _, container in _containers(template):
        linux = container["LinuxParameters"]
        assert linux["Capabilities"] == {"Drop": ["ALL"]}, family
        assert linux["InitProcessEnabled"] is True, family
        assert container.get("Privileged") is False, family


def test_no_new_privileges_on_the_shared_ec2_host(compute):
    env, template = compute
    if env not in SHARED_HOST_ENVS:
        pytest.skip(f"{env} runs services on Fargate, which does not accept docker security options")
    services = [c for family, _, c in _containers(template) if family.startswith("tradai-")]
    assert services and all(c["DockerSecurityOptions"] == ["no-new-privileges"] for c in services)


@pytest.mark.parametrize("env", spec.ENVIRONMENTS)
def test_database_has_enhanced_monitoring_and_performance_insights(env, synthesized):
    template = synthesized[(env, "persistent")].json
    (database,) = resources(template, "AWS::RDS::DBInstance").values()
    assert database["MonitoringInterval"] == 60
    role = resources(template, "AWS::IAM::Role")[database["MonitoringRoleArn"]["Fn::GetAtt"][0]]
    assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    assert [p["Fn::Join"][1][-1] for p in role["ManagedPolicyArns"]] == [
        ":iam::aws:policy/service-role/AmazonRDSEnhancedMonitoringRole"]
    assert database["EnablePerformanceInsights"] is True
    assert database["PerformanceInsightsRetentionPeriod"] == 7
