"""Bad configuration fails before synth, naming the field, the bad value and what is allowed."""

import dataclasses
import json
from pathlib import Path

import aws_cdk as cdk
import pytest

from tradai_cdk.config import ConfigError, config_for, validate
from tradai_cdk.config.model import SgRule


@pytest.fixture
def dev():
    return config_for("dev")


def _replace_subnet(config, subnet_name, **changes):
    subnets = tuple(dataclasses.replace(s, **changes) if s.name == subnet_name else s
                    for s in config.network.subnets)
    return dataclasses.replace(config, network=dataclasses.replace(config.network, subnets=subnets))


def _expect(config, field_fragment, value_fragment, allowed_fragment):
    with pytest.raises(ConfigError) as error:
        validate(config)
    message = str(error.value)
    assert field_fragment in error.value.field, message
    assert value_fragment in repr(error.value.value), message
    assert allowed_fragment in error.value.allowed, message


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_every_environment_is_valid(env):
    validate(config_for(env))


def test_unknown_environment():
    with pytest.raises(ConfigError, match=r"environment = 'qa'; allowed: one of dev, staging, prod"):
        config_for("qa")


def test_malformed_cidr(dev):
    _expect(_replace_subnet(dev, "Private-1", cidr="10.0.11.0/33"),
            "subnets[Private-1].cidr", "10.0.11.0/33", "IPv4 CIDR")


def test_cidr_with_host_bits(dev):
    _expect(_replace_subnet(dev, "Private-1", cidr="10.0.11.7/24"), "subnets[Private-1].cidr", "10.0.11.7/24",
            "no host bits")


def test_overlapping_subnets(dev):
    _expect(_replace_subnet(dev, "Private-2", cidr="10.0.11.128/25"),
            "subnets[Private-2].cidr", "10.0.11.128/25", "does not overlap Private-1")


def test_subnet_outside_the_vpc(dev):
    _expect(_replace_subnet(dev, "Database-2", cidr="10.1.22.0/24"),
            "subnets[Database-2].cidr", "10.1.22.0/24", "inside the VPC 10.0.0.0/16")


def test_subnet_in_an_unknown_az(dev):
    _expect(_replace_subnet(dev, "Public-2", availability_zone="eu-central-1c"),
            "subnets[Public-2].availability_zone", "eu-central-1c", "eu-central-1a, eu-central-1b")


def test_duplicate_subnet_names(dev):
    _expect(_replace_subnet(dev, "Public-2", name="Public-1"), "network.subnets", "Public-1", "unique")


def test_duplicate_service_ports(dev):
    services = (dev.services[0], dataclasses.replace(dev.services[1], port=dev.services[0].port)) + dev.services[2:]
    _expect(dataclasses.replace(dev, services=services), "services ports", "8000", "unique")


def test_service_port_outside_the_security_group_rules(dev):
    services = (dataclasses.replace(dev.services[0], port=9000),) + dev.services[1:]
    _expect(dataclasses.replace(dev, services=services), "services[backend-api].port", "9000",
            "a port the ECS SG admits from the ALB")


def test_bad_log_retention(dev):
    profile = dataclasses.replace(dev.profile, log_retention_days=45)
    _expect(dataclasses.replace(dev, profile=profile), "profile.log_retention_days", "45", "30, 60, 90")


def test_missing_required_value(dev):
    rds = dataclasses.replace(dev.rds, instance_class="")
    _expect(dataclasses.replace(dev, rds=rds), "config.rds.instance_class", "''", "required")


def test_rule_referencing_an_unknown_group(dev):
    bad = SgRule("ingress", "tcp", 5432, 5432, "From nowhere", peer_group="bastion")
    groups = tuple(dataclasses.replace(sg, rules=sg.rules + (bad,)) if sg.key == "rds" else sg
                   for sg in dev.security_groups)
    _expect(dataclasses.replace(dev, security_groups=groups), "security_groups[rds].rules[2].peer_group",
            "bastion", "one of alb, ecs, lambda, apigw, rds, nat")


def test_port_range_out_of_bounds(dev):
    bad = SgRule("ingress", "tcp", 70000, 70000, "Too high", peer_cidr="10.0.0.0/16")
    groups = tuple(dataclasses.replace(sg, rules=(bad,)) if sg.key == "nat" else sg for sg in dev.security_groups)
    _expect(dataclasses.replace(dev, security_groups=groups), "security_groups[nat].rules[0].from_port", "70000",
            "0 to 65535")


def test_lambda_memory_out_of_range(dev):
    lambdas = (dataclasses.replace(dev.lambdas[0], memory_mib=64),) + dev.lambdas[1:]
    _expect(dataclasses.replace(dev, lambdas=lambdas), "lambdas[backtest-consumer].memory_mib", "64", "128 to 10240")


def test_nat_outside_a_public_subnet(dev):
    nat = dataclasses.replace(dev.nat, subnet="Private-1")
    _expect(dataclasses.replace(dev, nat=nat), "nat.subnet", "Private-1", "Public-1, Public-2")


def test_include_projection_without_attributes(dev):
    table = dev.tables[0]
    gsis = (dataclasses.replace(table.gsis[1], non_key_attributes=()),)
    tables = (dataclasses.replace(table, gsis=table.gsis[:1] + gsis),) + dev.tables[1:]
    _expect(dataclasses.replace(dev, tables=tables), "tables[workflow-state].gsis[trace_id-index].non_key_attributes",
            "()", "exactly when the projection is INCLUDE")


def test_services_that_do_not_fit_the_shared_host(dev):
    host = dev.profile.consolidated_host
    greedy = tuple((name, 1024) for name, _ in host.memory_reservations)
    profile = dataclasses.replace(dev.profile, consolidated_host=dataclasses.replace(host, memory_reservations=greedy))
    _expect(dataclasses.replace(dev, profile=profile), "consolidated_host.memory_reservations", "4096",
            "what t3.small offers ECS")


def test_shared_host_mode_without_a_host(dev):
    profile = dataclasses.replace(dev.profile, consolidated_host=None)
    _expect(dataclasses.replace(dev, profile=profile), "profile.consolidated_host", "None", "a host when")


def test_backtest_task_must_be_an_on_demand_task(dev):
    backtest = dataclasses.replace(dev.backtest, task="backend-api")
    _expect(dataclasses.replace(dev, backtest=backtest), "backtest.task", "backend-api", "strategy-container")


def test_backtest_task_timeout_must_fit_the_run_timeout(dev):
    backtest = dataclasses.replace(dev.backtest, task_timeout_minutes=dev.backtest.run_timeout_minutes)
    _expect(dataclasses.replace(dev, backtest=backtest), "backtest.task_timeout_minutes",
            str(dev.backtest.run_timeout_minutes), "an integer from 1 to")


def _with_nat(config, **changes):
    return dataclasses.replace(config, nat=dataclasses.replace(config.nat, **changes))


def _with_profile(config, **changes):
    return dataclasses.replace(config, profile=dataclasses.replace(config.profile, **changes))


@pytest.mark.parametrize("env", ["dev", "staging", "prod"])
def test_nat_ready_timeout_must_leave_the_switch_reserve(env):
    config = config_for(env)
    heartbeat = config.nat.lifecycle_heartbeat_seconds
    for timeout in (heartbeat - 19, heartbeat, heartbeat + 600):
        _expect(_with_nat(config, ready_timeout_seconds=timeout), "nat.ready_timeout_seconds", str(timeout),
                f"1 to {heartbeat - 20}")


def test_nat_ready_timeout_follows_a_changed_heartbeat(dev):
    _expect(_with_nat(dev, lifecycle_heartbeat_seconds=120, ready_timeout_seconds=101),
            "nat.ready_timeout_seconds", "101", "1 to 100")
    validate(_with_nat(dev, lifecycle_heartbeat_seconds=120, ready_timeout_seconds=99))


def test_nat_ready_timeout_of_zero(dev):
    _expect(_with_nat(dev, ready_timeout_seconds=0), "nat.ready_timeout_seconds", "0", "1 to")


def test_nat_readiness_poll_too_large_for_the_function(dev):
    timeout = dev.lambda_spec(dev.nat.route_function).timeout_seconds
    limit = timeout - 20
    validate(_with_nat(dev, readiness_poll_seconds=limit))
    _expect(_with_nat(dev, readiness_poll_seconds=limit + 1), "nat.readiness_poll_seconds", str(limit + 1),
            f"1 to {limit}")
    _expect(_with_nat(dev, readiness_poll_seconds=0), "nat.readiness_poll_seconds", "0", f"1 to {limit}")


@pytest.mark.parametrize("email", ["ops", "ops@", "@example.com", "ops@example", "ops at example.com",
                                   "ops@exa mple.com", "ops@@example.com", "ops@example.c", ""])
def test_malformed_alert_email(dev, email):
    _expect(_with_profile(dev, alert_emails=(email, "oncall@example.com")), "profile.alert_emails[0]",
            repr(email), "an email address")


def test_malformed_alert_email_is_named_by_position(dev):
    _expect(_with_profile(dev, alert_emails=("oncall@example.com", "not-an-email")), "profile.alert_emails[1]",
            "not-an-email", "an email address")


def test_valid_alert_emails(dev):
    validate(_with_profile(dev, alert_emails=("ops@example.com", "First.Last+nat@mail.example.co.uk")))
    validate(_with_profile(dev, alert_emails=()))


@pytest.mark.parametrize("version", ["latest", "3", "3.37", "v3.37.0", "3.37.0-beta", "3.37.x", ""])
def test_powertools_version_must_be_exact(dev, version):
    with pytest.raises(ConfigError) as error:
        validate(dataclasses.replace(dev, powertools_version=version))
    if version:  # an empty value is caught by the required-field check first
        assert error.value.field == "powertools_version", str(error.value)
        assert error.value.value == version
        assert "never 'latest'" in error.value.allowed
    else:
        assert error.value.field == "config.powertools_version"


def _operations(config, **changes):
    return dataclasses.replace(config, operations=dataclasses.replace(config.operations, **changes))


def _alarms(config, **changes):
    profile = dataclasses.replace(config.profile, alarms=dataclasses.replace(config.profile.alarms, **changes))
    return dataclasses.replace(config, profile=profile)


@pytest.mark.parametrize("field, value", [("drift_psi_threshold", 0), ("performance_drop_threshold", 1.5),
                                          ("min_improvement", -0.1)])
def test_drift_and_promotion_thresholds_are_fractions(dev, field, value):
    _expect(_operations(dev, **{field: value}), f"operations.{field}", str(value), "a fraction")


def test_champion_alias_must_be_an_mlflow_name(dev):
    _expect(_operations(dev, champion_alias="champion alias"), "operations.champion_alias", "champion alias",
            "an MLflow name")


def test_drift_detection_must_finish_inside_the_detector_timeout(dev):
    _expect(_operations(dev, drift_detection_timeout_seconds=290), "operations.drift_detection_timeout_seconds",
            "290", "from 30 to 270")


def test_health_probes_must_fit_the_health_check_timeout(dev):
    _expect(_operations(dev, health_probe_timeout_seconds=30), "operations.health_probe_timeout_seconds", "30",
            "from 1 to 20")


def test_retraining_timeout_must_cover_training_and_shadow_test(dev):
    _expect(_operations(dev, retraining_timeout_hours=5), "operations.retraining_timeout_hours", "5",
            "more than train + shadow timeouts")


@pytest.mark.parametrize("field", ["lambda_errors", "rds_connections", "api_p99_latency_ms"])
def test_alarm_thresholds_must_be_positive(dev, field):
    _expect(_alarms(dev, **{field: 0}), f"profile.alarms.{field}", "0", "a positive threshold")


def test_free_storage_alarm_must_be_below_the_allocated_storage(dev):
    _expect(_alarms(dev, rds_free_storage_gib=20), "profile.alarms.rds_free_storage_gib", "20",
            "less than the allocated storage (20 GiB)")


def test_deployment_workflow_must_outlast_the_health_timeout(dev):
    deployments = dataclasses.replace(dev.deployments, run_timeout_minutes=10)
    _expect(dataclasses.replace(dev, deployments=deployments), "deployments.run_timeout_minutes", "10",
            "at least the health timeout (600 s) plus 5 minutes")


@pytest.mark.parametrize("tag", [None, "", "latest", "LATEST", "bad tag", "-leading-dash"])
def test_synth_refuses_a_missing_mutable_or_malformed_image_tag(tag):
    from tradai_cdk.app import build_app
    context = {} if tag is None else {"image_tag": tag}
    with pytest.raises(ConfigError) as error:
        build_app(context=context)
    assert error.value.field == "context image_tag"
    assert error.value.value == tag
    assert "-c image_tag=" in error.value.allowed and "never 'latest'" in error.value.allowed


@pytest.mark.parametrize("stages", ["", "qa", "dev,qa", " , "])
def test_synth_refuses_an_empty_or_unknown_stages_selection(stages):
    from tradai_cdk.app import build_app
    with pytest.raises(ConfigError) as error:
        build_app(context={"image_tag": "0a1b2c3", "stages": stages})
    assert (error.value.field, error.value.value) == ("context stages", stages)
    assert error.value.allowed == "a comma-separated subset of dev, staging, prod"


def test_stages_context_builds_only_the_named_environments(monkeypatch):
    """Each stage is an empty Stage here (building the real ones costs seconds): only the selection is tested."""
    from tradai_cdk import app as app_module
    built = {}

    def stage(scope, construct_id, *, config, env):
        built[construct_id] = config.env
        return cdk.Stage(scope, construct_id, env=env)

    monkeypatch.setattr(app_module, "TradaiStage", stage)
    flags = json.loads((Path(__file__).resolve().parents[1] / "cdk.json").read_text())["context"]
    app = app_module.build_app(context={**flags, "image_tag": "0a1b2c3", "stages": "prod, dev"}, validations=False)
    assert built == {app_module.stage_id("prod"): "prod", app_module.stage_id("dev"): "dev"}
    assert {child.node.id for child in app.node.children if isinstance(child, cdk.Stage)} == set(built)
