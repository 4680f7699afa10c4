"""The cost estimator (issue 18) on small synthetic templates: every expected amount is computed by hand here from
this file's own round prices and assumptions, never taken from the estimator."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from pathlib import Path

import pytest

from tradai_cdk.config.model import CostAssumptions
from tradai_cdk.cost import estimate_assembly
from tradai_cdk.cost.__main__ import main
from tradai_cdk.cost.estimate import UNKNOWN, estimate_env
from tradai_cdk.cost.model import Stack
from tradai_cdk.cost.prices import ENTRY_FIELDS, PRICES_FILE, Price, PriceTable, load_prices, schema_errors
from tradai_cdk.cost.report import largest_changes, render

H = 730  # hours in a month, as AWS counts them
TODAY = dt.date(2026, 6, 1)
P = {  # round prices, so the hand computations stay readable
    "ec2.t4g.nano": 0.005, "ec2.t3.small": 0.02, "ec2.detailed_monitoring": 2.0, "ebs.gp3": 0.1,
    "fargate.x86_64.vcpu": 0.04, "fargate.x86_64.memory": 0.005, "fargate.arm64.vcpu": 0.03,
    "fargate.arm64.memory": 0.004, "fargate_spot.x86_64.vcpu": 0.012, "fargate_spot.x86_64.memory": 0.0015,
    "rds.db.t4g.small": 0.04, "rds.gp3": 0.1, "rds.backup": 0.1, "elb.alb": 0.03, "elb.alb.lcu": 0.01,
    "vpc.public_ipv4": 0.005, "vpc.nat_gateway": 0.05, "vpc.nat_gateway.data": 0.05, "vpc.interface_endpoint": 0.01,
    "data_transfer.internet_out": 0.1, "waf.web_acl": 5.0, "waf.rule": 1.0, "waf.requests": 0.6,
    "cloudtrail.management_events": 0.0, "secretsmanager.secret": 0.4, "cloudwatch.alarm": 0.1,
    "cloudwatch.alarm.high_resolution": 0.3, "cloudwatch.dashboard": 3.0, "cloudwatch.metric": 0.3,
    "cloudwatch.logs.ingestion": 0.5, "cloudwatch.logs.storage": 0.03, "apigateway.rest.requests": 3.5,
    "kms.key": 1.0, "lambda.requests": 0.2, "lambda.arm64.compute": 0.00001, "lambda.x86_64.compute": 0.00002,
    "dynamodb.on_demand.read": 0.1, "dynamodb.on_demand.write": 0.5, "dynamodb.storage": 0.25, "dynamodb.pitr": 0.2,
    "sqs.standard": 0.4, "sqs.fifo": 0.5, "stepfunctions.standard": 0.025, "s3.standard": 0.02, "ecr.storage": 0.1,
    "route53.hosted_zone": 0.5,
}
A = CostAssumptions(
    backtests_per_day=4, backtest_minutes=30, live_trading_tasks=1, dry_run_tasks=0, api_requests_per_month=2_000_000,
    alb_average_lcus=0.5, nat_egress_gb_per_month=100, log_gb_per_month=10, lambda_invocations_per_month=1_000_000,
    lambda_average_ms=200, dynamodb_reads_per_month=4_000_000, dynamodb_writes_per_month=2_000_000,
    dynamodb_storage_gib=2, step_function_transitions_per_month=40_000, sqs_requests_per_month=3_000_000,
    s3_storage_gib=100, ecr_storage_gib=5, rds_changed_gib_per_day=1, container_insights_cluster_metrics=10,
    container_insights_service_metrics=20)


def table(read_on: dt.date = dt.date(2026, 1, 1), max_age_days: int = 180) -> PriceTable:
    source = "https://aws.amazon.com/pricing/"
    return PriceTable("eu-central-1", "USD", max_age_days,
                      {k: Price(k, v, "USD per unit", source, read_on) for k, v in P.items()})


def res(type_: str, **props) -> dict:
    return {"Type": type_, "Properties": props}


def estimate(tiers: dict[str, dict[str, dict]], assumptions: CostAssumptions = A):
    return estimate_env("dev", [Stack("dev", tier, resources) for tier, resources in tiers.items()], table(),
                        assumptions)


def amounts(est) -> dict[str, float]:
    return {line.name: line.monthly for line in est.lines}


def launch_template(itype: str, gib: int, public: bool = False, monitoring: bool = True) -> dict:
    data = {"InstanceType": itype, "Monitoring": {"Enabled": monitoring},
            "BlockDeviceMappings": [{"DeviceName": "/dev/xvda", "Ebs": {"VolumeSize": gib, "VolumeType": "gp3"}}]}
    if public:
        data["NetworkInterfaces"] = [{"AssociatePublicIpAddress": True, "DeviceIndex": 0}]
    return res("AWS::EC2::LaunchTemplate", LaunchTemplateData=data)


def asg(template: str, **capacity) -> dict:
    return res("AWS::AutoScaling::AutoScalingGroup", LaunchTemplate={"LaunchTemplateId": {"Ref": template}},
               **capacity)


def task_definition(cpu: int, memory: int, family: str = "f", arch: str = "") -> dict:
    props = {"Cpu": str(cpu), "Memory": str(memory), "Family": family, "RequiresCompatibilities": ["FARGATE"]}
    if arch:
        props["RuntimePlatform"] = {"CpuArchitecture": arch, "OperatingSystemFamily": "LINUX"}
    return res("AWS::ECS::TaskDefinition", **props)


def service(task: str, provider, count: int) -> dict:
    return res("AWS::ECS::Service", Cluster={"Ref": "Cluster"}, DesiredCount=count, TaskDefinition={"Ref": task},
               CapacityProviderStrategy=[{"CapacityProvider": provider, "Weight": 1}])


# --- the price table ---------------------------------------------------------------------------------------------

def test_price_table_in_the_repo_is_valid_and_complete():
    doc = json.loads(PRICES_FILE.read_text())
    assert schema_errors(doc) == []
    for key, entry in doc["prices"].items():
        assert set(ENTRY_FIELDS) <= set(entry), key
        assert entry["source"].startswith("https://aws.amazon.com/"), key
        assert dt.date.fromisoformat(entry["read_on"]) <= dt.date.today(), key
    prices = load_prices()
    assert prices.region == "eu-central-1" and prices.max_age_days > 0
    assert set(P) <= set(prices.prices)  # every price these tests exercise exists in the real table


def test_schema_errors_name_every_problem():
    doc = {"region": "eu-central-1", "max_age_days": 0, "prices": {
        "a": {"price": -1, "unit": "", "source": "http://x", "read_on": "yesterday"},
        "b": {"price": 1.0}}}
    errors = schema_errors(doc)
    assert "missing 'currency'" in errors and "max_age_days must be a positive integer" in errors
    assert {"a: price must be a non-negative number", "a: empty unit", "a: source must be an https URL",
            "a: read_on must be an ISO date (YYYY-MM-DD)", "b: missing 'unit'", "b: missing 'source'",
            "b: missing 'read_on'"} <= set(errors)


def test_malformed_table_is_refused(tmp_path):
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"region": "eu-central-1", "currency": "USD", "max_age_days": 180,
                                "prices": {"x": {"price": 1}}}))
    with pytest.raises(ValueError, match="x: missing 'unit'"):
        load_prices(path)


def test_staleness_is_flagged_past_the_configured_age():
    prices = table(read_on=dt.date(2026, 1, 1), max_age_days=180)
    assert prices.staleness(dt.date(2026, 6, 30)) is None  # 180 days old: still allowed
    warning = prices.staleness(dt.date(2026, 7, 1))
    assert warning.startswith("STALE PRICE TABLE") and "181 days ago (allowed: 180)" in warning
    report = render({}, prices, dt.date(2026, 7, 1), markdown=False)
    assert "!!! STALE PRICE TABLE" in report
    assert "[!WARNING]" in render({}, prices, dt.date(2026, 7, 1), markdown=True)
    assert "STALE" not in render({}, prices, dt.date(2026, 6, 30), markdown=False)


# --- fixed costs from the templates --------------------------------------------------------------------------------

def test_instances_from_launch_templates_at_desired_capacity():
    est = estimate({"foundation": {
        "NatTemplate": launch_template("t4g.nano", 8, public=True),
        "NatAsg": asg("NatTemplate", DesiredCapacity="1", MinSize="1", MaxSize="1"),
        "HostTemplate": launch_template("t3.small", 30, monitoring=False),
        "HostAsg": asg("HostTemplate", MinSize="2", MaxSize="3"),  # no desired capacity: the minimum runs
    }})
    assert amounts(est)["NatAsg"] == pytest.approx(730 * 0.005 + 8 * 0.1 + 2.0)  # 6.45
    assert amounts(est)["HostAsg"] == pytest.approx(2 * 730 * 0.02 + 2 * 30 * 0.1)  # 35.2
    assert est.total == pytest.approx(6.45 + 35.2)
    assert dict(est.free) == {"AWS::EC2::LaunchTemplate": 2}


def test_fargate_services_at_desired_count_size_architecture_and_capacity_provider():
    est = estimate({"compute": {
        "Cluster": res("AWS::ECS::Cluster"),
        "ApiTask": task_definition(512, 1024),
        "Api": service("ApiTask", "FARGATE", 2),
        "ArmTask": task_definition(1024, 2048, arch="ARM64"),
        "Arm": service("ArmTask", "FARGATE", 1),
        "SpotTask": task_definition(256, 512),
        "Spot": service("SpotTask", "FARGATE_SPOT", 3),
    }})
    got = amounts(est)
    assert got["Api"] == pytest.approx(2 * 730 * (0.5 * 0.04 + 1 * 0.005))  # 36.5
    assert got["Arm"] == pytest.approx(730 * (1 * 0.03 + 2 * 0.004))  # 27.74
    assert got["Spot"] == pytest.approx(3 * 730 * (0.25 * 0.012 + 0.5 * 0.0015))  # 8.2125
    assert got["Cluster"] == 0.0  # Container Insights off


def test_tasks_on_an_ec2_capacity_provider_cost_nothing_themselves_and_container_insights_counts_services():
    est = estimate({"compute": {
        "Cluster": res("AWS::ECS::Cluster", ClusterSettings=[{"Name": "containerInsights", "Value": "enabled"}]),
        "Capacity": res("AWS::ECS::CapacityProvider"),
        "Task": res("AWS::ECS::TaskDefinition", RequiresCompatibilities=["EC2"]),
        "OnHost": service("Task", {"Ref": "Capacity"}, 1),
        "Other": service("Task", {"Ref": "Capacity"}, 1),
    }})
    lines = {line.name: line for line in est.lines}
    assert lines["OnHost"].monthly == 0 and "costed with the instances" in lines["OnHost"].detail
    assert lines["Cluster"].monthly == pytest.approx((10 + 2 * 20) * 0.3)  # 15.0


def test_rds_multi_az_doubles_instance_and_storage_and_backups_beyond_the_free_allowance():
    est = estimate({"persistent": {"Db": res(
        "AWS::RDS::DBInstance", Engine="postgres", DBInstanceClass="db.t4g.small", AllocatedStorage="50",
        StorageType="gp3", MultiAZ=True, BackupRetentionPeriod=14)}})
    assert amounts(est)["Db"] == pytest.approx(2 * 730 * 0.04 + 2 * 50 * 0.1 + 14 * 1 * 0.1)  # 69.8


def test_load_balancer_eip_endpoints_and_flat_priced_resources():
    est = estimate({"edge": {
        "Internal": res("AWS::ElasticLoadBalancingV2::LoadBalancer", Scheme="internal", Subnets=["a", "b"]),
        "Public": res("AWS::ElasticLoadBalancingV2::LoadBalancer", Subnets=["a", "b"]),
        "Eip": res("AWS::EC2::EIP", Domain="vpc"),
        "S3Endpoint": res("AWS::EC2::VPCEndpoint", VpcEndpointType="Gateway"),
        "SqsEndpoint": res("AWS::EC2::VPCEndpoint", VpcEndpointType="Interface", SubnetIds=["a", "b"]),
        "Acl": res("AWS::WAFv2::WebACL", Rules=[{}, {}, {}]),
        "Trail": res("AWS::CloudTrail::Trail", IsLogging=True),
        "Secret": res("AWS::SecretsManager::Secret"),
        "Key": res("AWS::KMS::Key"),
        "Dashboard": res("AWS::CloudWatch::Dashboard"),
        "Alarm": res("AWS::CloudWatch::Alarm", Period=300),
        "MathAlarm": res("AWS::CloudWatch::Alarm", Metrics=[
            {"Id": "e", "Expression": "m1-m2"}, {"Id": "m1", "MetricStat": {"Period": 60}},
            {"Id": "m2", "MetricStat": {"Period": 60}}]),
        "FastAlarm": res("AWS::CloudWatch::Alarm", Period=10),
        "Namespace": res("AWS::ServiceDiscovery::PrivateDnsNamespace"),
    }})
    got = amounts(est)
    assert got["Internal"] == pytest.approx(730 * 0.03 + 0.5 * 730 * 0.01)  # 25.55
    assert got["Public"] == pytest.approx(25.55 + 2 * 730 * 0.005)  # 32.85
    assert got["Eip"] == pytest.approx(730 * 0.005)  # 3.65
    assert got["S3Endpoint"] == 0 and got["SqsEndpoint"] == pytest.approx(2 * 730 * 0.01)  # 14.6
    assert got["Acl"] == pytest.approx(5 + 3 * 1 + 2 * 0.6)  # 9.2
    assert got["Trail"] == 0  # the first trail's management events are free
    assert (got["Secret"], got["Key"], got["Dashboard"], got["Namespace"]) == (0.4, 1.0, 3.0, 0.5)
    assert (got["Alarm"], got["MathAlarm"], got["FastAlarm"]) == (pytest.approx(0.1), pytest.approx(0.2), 0.3)
    assert est.not_costed == ()


# --- usage from the assumptions ------------------------------------------------------------------------------------

def test_usage_lines_price_the_assumptions_over_the_resources_that_incur_them():
    est = estimate({"compute": {
        "Small": res("AWS::Lambda::Function", MemorySize=512, Architectures=["arm64"]),
        "Big": res("AWS::Lambda::Function", MemorySize=1024, Architectures=["x86_64"]),
        "Fifo": res("AWS::SQS::Queue", FifoQueue=True),
        "Std": res("AWS::SQS::Queue"),
        "Flow": res("AWS::StepFunctions::StateMachine"),
        "Api": res("AWS::ApiGateway::RestApi"),
        "Repo": res("AWS::ECR::Repository"),
        "Short": res("AWS::Logs::LogGroup", RetentionInDays=30),
        "Forever": res("AWS::Logs::LogGroup"),
    }, "persistent": {
        "T1": res("AWS::DynamoDB::Table", BillingMode="PAY_PER_REQUEST",
                  PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}),
        "T2": res("AWS::DynamoDB::Table", BillingMode="PAY_PER_REQUEST"),
        "Bucket": res("AWS::S3::Bucket"),
    }, "foundation": {"Igw": res("AWS::EC2::InternetGateway")}})
    got = amounts(est)
    # 1 M invocations at 200 ms: 500 k each; arm64 0.5 GB -> 50,000 GB-s, x86 1 GB -> 100,000 GB-s
    assert got["Lambda"] == pytest.approx(1 * 0.2 + 50_000 * 0.00001 + 100_000 * 0.00002)  # 2.7
    assert got["SQS"] == pytest.approx(1.5 * 0.5 + 1.5 * 0.4)  # 3 M requests, half per queue: 1.35
    assert got["Step Functions"] == pytest.approx(40 * 0.025)  # 1.0
    assert got["API Gateway"] == pytest.approx(2 * 3.5)  # 7.0
    assert got["ECR storage"] == pytest.approx(5 * 0.1)
    # 10 GB ingested, 5 GB per group; stored 30 days (5 × 30/30.4167 GB) and at most a year (5 × 12 GB)
    assert got["CloudWatch Logs"] == pytest.approx(10 * 0.5 + (5 * 30 / (365 / 12) + 5 * 12) * 0.03)
    # 4 M reads, 2 M writes, 2 GiB stored, half of it under PITR (1 of 2 tables)
    assert got["DynamoDB"] == pytest.approx(4 * 0.1 + 2 * 0.5 + 2 * 0.25 + 1 * 0.2)  # 2.1
    assert got["S3 storage"] == pytest.approx(100 * 0.02)
    assert got["Internet egress"] == pytest.approx(100 * 0.1)
    assert {line.tier for line in est.lines} == {"usage"}


def test_on_demand_tasks_priced_on_the_capacity_provider_the_templates_launch_them_with():
    run_task = {"Type": "Task", "Resource": "arn:aws:states:::ecs:runTask.sync", "Parameters": {
        "Cluster": "CLUSTER", "TaskDefinition": "strategy-container-dev",
        "CapacityProviderStrategy": [{"CapacityProvider": "FARGATE_SPOT", "Weight": 1}]}}
    definition = json.dumps({"States": {"Run": run_task}}).split("CLUSTER")
    modes = json.dumps({"live": {"family": "strategy-live-trading-dev", "capacity_provider": "FARGATE"}})
    est = estimate({"compute": {
        "Backtest": task_definition(1024, 2048, family="strategy-container-dev"),
        "Live": task_definition(1024, 2048, family="strategy-live-trading-dev"),
        "DryRun": task_definition(1024, 2048, family="strategy-dry-run-trading-dev"),
        "Mystery": task_definition(256, 512, family="mystery-dev"),
        "Workflow": res("AWS::StepFunctions::StateMachine", DefinitionString={
            "Fn::Join": ["", [definition[0], {"Fn::GetAtt": ["Cluster", "Arn"]}, definition[1]]]}),
        "Deployer": res("AWS::Lambda::Function", Environment={"Variables": {"TRADING_MODES": modes}}),
    }})
    got = amounts(est)
    # 4 backtests a day × 30 min = 2 h a day over 730/24 days, on FARGATE_SPOT, 1 vCPU + 2 GB
    assert got["Fargate tasks strategy-container-dev"] == pytest.approx(2 * 730 / 24 * (0.012 + 2 * 0.0015))
    assert got["Fargate tasks strategy-live-trading-dev"] == pytest.approx(730 * (0.04 + 2 * 0.005))  # 36.5
    dry_run = next(line for line in est.lines if line.name == "Fargate tasks strategy-dry-run-trading-dev")
    assert dry_run.monthly == 0 and "no launcher found" in dry_run.detail  # 0 running; would be on-demand
    assert [(n.name, n.reason) for n in est.not_costed] == [
        ("Mystery", "no usage assumption for on-demand task family mystery-dev")]


# --- what is not costed is listed, never zero ----------------------------------------------------------------------

def test_unknown_types_and_missing_prices_are_listed_as_not_costed():
    est = estimate({"compute": {
        "Thing": res("AWS::Foo::Bar"),
        "BigTemplate": launch_template("m7i.48xlarge", 8),
        "Big": asg("BigTemplate", DesiredCapacity="1"),
        "Provisioned": res("AWS::DynamoDB::Table", BillingMode="PROVISIONED"),
        "Express": res("AWS::StepFunctions::StateMachine", StateMachineType="EXPRESS"),
        "Role": res("AWS::IAM::Role"),
        "Secret": res("AWS::SecretsManager::Secret"),
    }})
    reasons = {n.name: n.reason for n in est.not_costed}
    assert reasons == {"Thing": UNKNOWN, "Big": "no price 'ec2.m7i.48xlarge' in the price table",
                       "Provisioned": "provisioned capacity is not priced",
                       "Express": "EXPRESS workflows are not priced"}
    assert est.total == pytest.approx(0.4)  # only the secret
    assert dict(est.free) == {"AWS::EC2::LaunchTemplate": 1, "AWS::IAM::Role": 1}
    report = render({"dev": est}, table(), TODAY, markdown=False)
    assert "NOT COSTED (4):" in report and "AWS::Foo::Bar" in report and UNKNOWN in report
    assert "resource(s) not costed" in render({"dev": est}, table(), TODAY, markdown=True)


# --- the spec's cost choices -----------------------------------------------------------------------------------------

def test_nat_instance_and_ecs_host_shown_next_to_their_alternatives():
    container = [{"Name": "app", "Cpu": 512, "Memory": 1024, "MemoryReservation": 384},
                 {"Name": "sidecar", "Cpu": 512, "MemoryReservation": 1024}]
    est = estimate({"foundation": {
        "NatTemplate": launch_template("t4g.nano", 8, public=True),
        "NatAsg": asg("NatTemplate", DesiredCapacity="1"),
    }, "compute": {
        "HostTemplate": launch_template("t3.small", 30),
        "HostAsg": asg("HostTemplate", MinSize="1"),
        "Capacity": res("AWS::ECS::CapacityProvider",
                        AutoScalingGroupProvider={"AutoScalingGroupArn": {"Ref": "HostAsg"}}),
        "Task": res("AWS::ECS::TaskDefinition", RequiresCompatibilities=["EC2"], ContainerDefinitions=container),
        "Svc": service("Task", {"Ref": "Capacity"}, 2),
    }})
    nat, host = est.comparisons
    assert nat.chosen_monthly == pytest.approx(730 * 0.005 + 8 * 0.1 + 2.0)  # 6.45
    assert nat.alternative_monthly == pytest.approx(730 * 0.05 + 100 * 0.05)  # 41.5
    assert nat.saving == pytest.approx(41.5 - 6.45)
    assert host.chosen_monthly == pytest.approx(730 * 0.02 + 30 * 0.1 + 2.0)  # 19.6
    # the containers ask for 1024 CPU and 1024 + 1024 MiB: 1 vCPU + 2 GB on Fargate, 2 tasks around the clock
    assert host.alternative_monthly == pytest.approx(2 * 730 * (1 * 0.04 + 2 * 0.005))  # 73.0
    report = render({"dev": est}, table(), TODAY, markdown=False)
    assert "saved a month by the deployed design" in report and "$35.05" in report and "$53.40" in report


# --- before and after ------------------------------------------------------------------------------------------------

def test_largest_changes_between_base_and_change():
    before = {"dev": estimate({"edge": {"Secret": res("AWS::SecretsManager::Secret"),
                                        "Key": res("AWS::KMS::Key")}})}
    after = {"dev": estimate({"edge": {"Key": res("AWS::KMS::Key"), "Eip": res("AWS::EC2::EIP"),
                                       "Dash": res("AWS::CloudWatch::Dashboard")}})}
    assert largest_changes(before, after, top=2) == [("dev", "edge", "Eip", "AWS::EC2::EIP", 0.0, pytest.approx(3.65)),
                                                     ("dev", "edge", "Dash", "AWS::CloudWatch::Dashboard", 0.0, 3.0)]
    report = render(after, table(), TODAY, markdown=True, before=before)
    assert "| dev | $1.40 | $7.65 | +$6.25 (+446.4%) |" in report  # 0.4 + 1 -> 1 + 3.65 + 3
    assert "| dev | edge | Secret | AWS::SecretsManager::Secret | $0.40 | $0.00 | -$0.40 (-100.0%) |" in report
    assert "$1.40 ->      $7.65   +$6.25 (+446.4%)" in render(after, table(), TODAY, False, before)


def write_assembly(outdir: Path, env: str, tiers: dict[str, dict[str, dict]]) -> Path:
    """A cloud assembly as ``cdk synth`` writes it: one stage directory with a manifest and the templates."""
    stage = outdir / f"assembly-Tradai{env.capitalize()}"
    stage.mkdir(parents=True)
    artifacts = {}
    for tier, resources in tiers.items():
        name = f"Tradai{env.capitalize()}{tier.capitalize()}"
        (stage / f"{name}.template.json").write_text(json.dumps({"Resources": resources}))
        artifacts[name] = {"type": "aws:cloudformation:stack", "displayName": f"Tradai/{tier}", "properties": {
            "templateFile": f"{name}.template.json", "stackName": f"tradai-{tier}-{env}"}}
    (stage / "manifest.json").write_text(json.dumps({"version": "1", "artifacts": artifacts}))
    return outdir


def test_cli_compares_already_synthesized_assemblies(tmp_path, capsys):
    base = write_assembly(tmp_path / "base", "prod", {"persistent": {"Secret": res("AWS::SecretsManager::Secret")}})
    change = write_assembly(tmp_path / "change", "prod", {"persistent": {
        "Secret": res("AWS::SecretsManager::Secret"), "Other": res("AWS::SecretsManager::Secret")}})
    prices = load_prices()
    assert estimate_assembly(change, prices)["prod"].total == pytest.approx(2 * prices["secretsmanager.secret"])
    assert main(["--assembly", str(change), "--base-assembly", str(base), "--format", "markdown"]) == 0
    out = capsys.readouterr().out
    secret = prices["secretsmanager.secret"]
    assert f"| prod | ${secret:.2f} | ${2 * secret:.2f} | +${secret:.2f} (+100.0%) |" in out
    assert f"| prod | persistent | Other | AWS::SecretsManager::Secret | $0.00 | ${secret:.2f} |" in out
    assert "| dev | $0.00 | $0.00 |" in out  # an environment the assemblies lack costs nothing


def test_cli_strict_fails_on_what_is_not_costed(tmp_path, capsys, monkeypatch):
    fresh = dataclasses.replace(load_prices(), max_age_days=100_000)  # staleness aside
    monkeypatch.setattr("tradai_cdk.cost.__main__.load_prices", lambda: fresh)
    assembly = write_assembly(tmp_path / "a", "dev", {"edge": {"Thing": res("AWS::Foo::Bar")}})
    assert main(["--assembly", str(assembly)]) == 0
    assert main(["--assembly", str(assembly), "--strict"]) == 3
    assert "1 resource(s) not costed" in capsys.readouterr().err
    clean = write_assembly(tmp_path / "b", "dev", {"edge": {"Role": res("AWS::IAM::Role")}})
    assert main(["--assembly", str(clean), "--strict"]) == 0


def test_cli_strict_fails_on_a_stale_table(tmp_path, capsys, monkeypatch):
    stale = dataclasses.replace(load_prices(), max_age_days=1)
    monkeypatch.setattr("tradai_cdk.cost.__main__.load_prices", lambda: stale)
    assembly = write_assembly(tmp_path / "a", "dev", {"edge": {"Role": res("AWS::IAM::Role")}})
    assert main(["--assembly", str(assembly), "--strict"]) == 3
    captured = capsys.readouterr()
    assert "!!! STALE PRICE TABLE" in captured.out and "warning: STALE PRICE TABLE" in captured.err
