"""Fixtures for Lambda handler tests: moto in-process, fake credentials, eu-central-1."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

import boto3
import pytest
from botocore.awsrequest import AWSResponse
from moto import mock_aws
from moto.autoscaling.models import autoscaling_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ec2.models import ec2_backends
from moto.ec2.models.route_tables import Route

from boto_reuse import new_session
from nat_routes.handler import settings as nat_settings

REGION = "eu-central-1"
AMI_ID = "ami-0123456789abcdef0"  # moto does not require the AMI to exist


def client_response(status: int, parsed: dict) -> tuple[AWSResponse, dict]:
    """A `before-call` return value that short-circuits a botocore call with this response."""
    parsed.setdefault("ResponseMetadata", {"HTTPStatusCode": status})
    return AWSResponse("https://moto-unimplemented.invalid", status, {}, None), parsed


def error_response(code: str, message: str) -> tuple[AWSResponse, dict]:
    return client_response(400, {"Error": {"Code": code, "Message": message}})


@dataclass
class LifecycleActions:
    """Stand-in for CompleteLifecycleAction, which moto 5.2.5 does not implement.

    Validates each call against moto's Auto Scaling state (group, hook, group membership,
    action not already completed) with AWS-style ValidationErrors, and records it: `calls` holds
    every attempt's parameters, plus "Refused" (the error code) when it failed. Set
    `fail_with` to an error code to make every call fail with it.
    """

    calls: list[dict] = field(default_factory=list)
    fail_with: str | None = None

    @property
    def results(self) -> list[str]:
        """LifecycleActionResult of every accepted call."""
        return [call["LifecycleActionResult"] for call in self.calls if "Refused" not in call]

    def __call__(self, params: dict, **_kwargs) -> tuple[AWSResponse, dict]:
        body = params["body"]
        call = {key: body[key] for key in body if key not in ("Action", "Version")}
        code, message = self.fail_with, "injected CompleteLifecycleAction failure"
        if code is None:
            code, message = self._validate(call)
        if code:
            call["Refused"] = code
        self.calls.append(call)
        return error_response(code, message) if code else client_response(200, {})

    def _validate(self, call: dict) -> tuple[str | None, str | None]:
        backend = autoscaling_backends[DEFAULT_ACCOUNT_ID][REGION]
        group = backend.autoscaling_groups.get(call["AutoScalingGroupName"])
        if group is None:
            return "ValidationError", "AutoScalingGroup name not found"
        if f"{group.name}_{call['LifecycleHookName']}" not in backend.lifecycle_hooks:
            return "ValidationError", "No Lifecycle Hook found"
        instance_id = call.get("InstanceId")
        members = {state.instance.id for state in group.instance_states}
        done = instance_id in {c.get("InstanceId") for c in self.calls if "Refused" not in c}
        if instance_id and (instance_id not in members or done):
            return "ValidationError", f"No active Lifecycle Action found with instance ID {instance_id}"
        return None, None


@dataclass
class NatEnv:
    """A VPC with a public subnet, private route tables and the NAT instance's ASG + launch hook."""

    ec2: object
    autoscaling: object
    vpc_id: str
    subnet_id: str
    route_table_ids: list[str]
    asg_name: str
    asg_arn: str
    hook_name: str
    instance_id: str
    eni_id: str
    launched_at: datetime
    allocation_id: str

    def mark_boot(self, value: str = "ready", instance_id: str | None = None) -> None:
        """What the instance's boot script does as its last step."""
        self.ec2.create_tags(Resources=[instance_id or self.instance_id],
                             Tags=[{"Key": "tradai:nat-boot", "Value": value}])

    def instance(self, instance_id: str | None = None) -> dict:
        return self.ec2.describe_instances(InstanceIds=[instance_id or self.instance_id])[
            "Reservations"][0]["Instances"][0]

    def address(self) -> dict:
        return self.ec2.describe_addresses(AllocationIds=[self.allocation_id])["Addresses"][0]

    def run_instance(self, launched_at: datetime) -> dict:
        """Start another (NAT-like) instance in the public subnet with the given launch time."""
        instance = self.ec2.run_instances(
            ImageId=AMI_ID, InstanceType="t4g.nano", MinCount=1, MaxCount=1, SubnetId=self.subnet_id
        )["Instances"][0]
        set_launch_time(instance["InstanceId"], launched_at)
        return instance

    def default_route(self, route_table_id: str | None = None) -> dict | None:
        table = self.ec2.describe_route_tables(
            RouteTableIds=[route_table_id or self.route_table_ids[0]]
        )["RouteTables"][0]
        return next(
            (r for r in table["Routes"] if r.get("DestinationCidrBlock") == "0.0.0.0/0"), None
        )

    def event(self, **detail_overrides) -> dict:
        """A launch lifecycle event exactly as EventBridge delivers it."""
        detail = {
            "LifecycleActionToken": str(uuid.uuid4()),
            "AutoScalingGroupName": self.asg_name,
            "LifecycleHookName": self.hook_name,
            "EC2InstanceId": self.instance_id,
            "LifecycleTransition": "autoscaling:EC2_INSTANCE_LAUNCHING",
            "NotificationMetadata": '{"role": "nat"}',
            "Origin": "EC2",
            "Destination": "AutoScalingGroup",
        }
        detail.update(detail_overrides)
        return {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "EC2 Instance-launch Lifecycle Action",
            "source": "aws.autoscaling",
            "account": DEFAULT_ACCOUNT_ID,
            "time": (self.launched_at + timedelta(seconds=5)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": REGION,
            "resources": [self.asg_arn],
            "detail": detail,
        }


def set_launch_time(instance_id: str, launched_at: datetime) -> None:
    """Pin an instance's LaunchTime in moto (moto stamps it with second resolution)."""
    ec2_backends[DEFAULT_ACCOUNT_ID][REGION].get_instance(instance_id).launch_time = launched_at


@pytest.fixture
def aws(monkeypatch):
    """Fake credentials, eu-central-1, fast waiter settings, a fresh default boto3 session, moto."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "ROUTE_TABLE_IDS", "LOG_LEVEL", "AWS_LAMBDA_FUNCTION_NAME",
                 "LAMBDA_TASK_ROOT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")  # saves ~1 s per test
    with mock_aws():  # resets boto3.DEFAULT_SESSION, so install ours afterwards
        session = new_session()
        monkeypatch.setattr(boto3, "DEFAULT_SESSION", session)
        yield session


@pytest.fixture
def lifecycle(aws) -> LifecycleActions:
    """Records (and validates) every CompleteLifecycleAction the handler sends."""
    actions = LifecycleActions()
    aws.events.register("before-call.auto-scaling.CompleteLifecycleAction", actions)
    return actions


@pytest.fixture
def fail_call(aws):
    """`fail_call(service_id, operation, code)` makes that boto3 call fail with a ClientError."""

    def register(service_id: str, operation: str, code: str) -> None:
        aws.events.register(
            f"before-call.{service_id}.{operation}",
            lambda **_: error_response(code, f"injected {operation} failure"),
        )

    return register


@pytest.fixture
def nat_env(aws, lifecycle, monkeypatch) -> NatEnv:
    """Network + NAT ASG in moto; ROUTE_TABLE_IDS points at one private route table."""
    ec2 = aws.client("ec2")
    autoscaling = aws.client("autoscaling")
    vpc_id = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnet_id = ec2.create_subnet(
        VpcId=vpc_id, CidrBlock="10.0.0.0/24", AvailabilityZone=f"{REGION}a"
    )["Subnet"]["SubnetId"]
    route_table_id = ec2.create_route_table(VpcId=vpc_id)["RouteTable"]["RouteTableId"]
    ec2.create_launch_template(
        LaunchTemplateName="tradai-nat",
        LaunchTemplateData={"ImageId": AMI_ID, "InstanceType": "t4g.nano"},
    )
    asg_name = "tradai-nat-asg"
    hook_name = "route-update"
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName=asg_name,
        MinSize=1,
        MaxSize=1,
        DesiredCapacity=1,
        LaunchTemplate={"LaunchTemplateName": "tradai-nat", "Version": "$Latest"},
        VPCZoneIdentifier=subnet_id,
    )
    autoscaling.put_lifecycle_hook(
        AutoScalingGroupName=asg_name,
        LifecycleHookName=hook_name,
        LifecycleTransition="autoscaling:EC2_INSTANCE_LAUNCHING",
        HeartbeatTimeout=300,
        DefaultResult="ABANDON",
    )
    group = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[asg_name])[
        "AutoScalingGroups"
    ][0]
    instance_id = group["Instances"][0]["InstanceId"]
    launched_at = (datetime.now(timezone.utc) - timedelta(seconds=30)).replace(tzinfo=None, microsecond=0)
    set_launch_time(instance_id, launched_at)
    instance = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]
    eni_id = next(
        ni["NetworkInterfaceId"]
        for ni in instance["NetworkInterfaces"]
        if ni["Attachment"]["DeviceIndex"] == 0
    )
    allocation_id = ec2.allocate_address(Domain="vpc")["AllocationId"]
    for name, value in {"ROUTE_TABLE_IDS": route_table_id, "AUTO_SCALING_GROUP_NAME": asg_name,
                        "LIFECYCLE_HOOK_NAME": hook_name, "EIP_ALLOCATION_ID": allocation_id,
                        "READY_TIMEOUT_SECONDS": "240", "POLL_INTERVAL_SECONDS": "5"}.items():
        monkeypatch.setenv(name, value)
    nat_settings.cache_clear()
    return NatEnv(
        ec2=ec2,
        autoscaling=autoscaling,
        vpc_id=vpc_id,
        subnet_id=subnet_id,
        route_table_ids=[route_table_id],
        asg_name=asg_name,
        asg_arn=group["AutoScalingGroupARN"],
        hook_name=hook_name,
        instance_id=instance_id,
        eni_id=eni_id,
        launched_at=launched_at,
        allocation_id=allocation_id,
    )


@pytest.fixture
def blackhole_routes(monkeypatch):
    """Make moto report a route as `blackhole` when its target is gone or not running, like EC2.

    moto 5.2.5 always reports routes as `active`.
    """

    def state(route: Route) -> str:
        if route.instance is not None:
            alive = route.instance.is_running()
        elif route.interface is not None:
            enis = route.route_table.ec2_backend.enis
            owner = route.interface.instance
            alive = route.interface.id in enis and owner is not None and owner.is_running()
        else:
            return "active"
        return "active" if alive else "blackhole"

    monkeypatch.setattr(Route, "state", property(state))


@pytest.fixture
def logs(caplog):
    """caplog for the handler's Powertools logger, which does not propagate to the root logger."""
    logger = logging.getLogger("nat-routes")
    logger.addHandler(caplog.handler)
    yield caplog
    logger.removeHandler(caplog.handler)

