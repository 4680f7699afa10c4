"""Checks that reject a bad configuration before any construct is built.

Every failure is a ``ConfigError`` naming the field, the bad value and what
is allowed, so ``cdk synth`` stops with a message a reviewer can act on.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import re
from collections import Counter
from collections.abc import Iterable
from typing import Any, TypeVar

from lambda_src.nat_routes import contract

from .model import ComputeMode, ExecutorMode, SubnetTier, TradaiConfig

T = TypeVar("T")

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)
PROTOCOLS = ("tcp", "udp", "icmp")
DIRECTIONS = ("ingress", "egress")
PROJECTIONS = ("ALL", "INCLUDE", "KEYS_ONLY")
KEY_TYPES = ("S", "N", "B")
LAMBDA_MEMORY_RANGE = (128, 10240)
LAMBDA_TIMEOUT_RANGE = (1, 900)
RDS_BACKUP_RANGE = (0, 35)
HOOK_HEARTBEAT_RANGE = (30, 7200)
EMAIL = re.compile(r"[^@\s]+@[^@\s.]+(\.[^@\s.]+)*\.[a-z]{2,}", re.IGNORECASE)
SUPPORTED_EXECUTOR_MODES = tuple(ExecutorMode)
IMAGE_TAG = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")  # ECR's tag syntax
MUTABLE_TAG_NAMES = ("latest",)
# S3 bucket names (global across all AWS accounts): 3-63 characters; the suffix adds lowercase letters, digits and
# hyphens, starting and ending with a letter or digit; names may not end in S3's reserved endings.
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
BUCKET_NAME_LENGTH = (3, 63)
BUCKET_SUFFIX = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?")
RESERVED_BUCKET_ENDINGS = ("-s3alias", "--ol-s3", "--x-s3", "--table-s3")
BUCKET_SUFFIX_FIELD = "naming.bucket_suffix"
BUCKET_SUFFIX_CONTEXT = "context bucket_suffix"
IMAGE_TAG_ALLOWED = (
    "an immutable image tag such as the release's git commit SHA, given as context: "
    "cdk synth -c image_tag=$(git rev-parse --short HEAD) (never 'latest')"
)


class ConfigError(ValueError):
    """A configuration value that cannot be deployed."""

    def __init__(self, field: str, value: object, allowed: str):
        self.field, self.value, self.allowed = field, value, allowed
        super().__init__(f"invalid configuration: {field} = {value!r}; allowed: {allowed}")


def required(value: T | None, field: str) -> T:
    """``value``, which the configuration must hold where it is used (validation checks it); ConfigError if None."""
    if value is None:
        raise ConfigError(field, None, "a value (required here)")
    return value


def validate(config: TradaiConfig) -> None:
    """Raise ``ConfigError`` on the first value that breaks a rule below."""
    _check_required(config, "config")
    if config.compute.image_tag is not None:
        require_image_tag(config.compute.image_tag)
    _check_network(config)
    _check_security_groups(config)
    _check_services(config)
    _check_compute_mode(config)
    _check_tables(config)
    check_bucket_names(config)
    _check_lambdas(config)
    _check_backtest(config)
    _check_operations(config)
    _check_alarms(config)
    _check_waf(config)
    _check_one_of("profile.log_retention_days", config.profile.log_retention_days, LOG_RETENTION_DAYS)
    _check_range("rds.backup_retention_days", config.rds.backup_retention_days, RDS_BACKUP_RANGE)
    _check_range("profile.service_desired_count", config.profile.service_desired_count, (0, 100))
    for index, email in enumerate(config.profile.alert_emails):
        if not EMAIL.fullmatch(email):
            raise ConfigError(f"profile.alert_emails[{index}]", email, "an email address (name@domain.tld)")
    if not re.fullmatch(r"\d+\.\d+\.\d+", config.powertools_version):
        raise ConfigError(
            "powertools_version",
            config.powertools_version,
            "an exact Powertools release such as 3.37.0 (never 'latest')",
        )


def selected_environments(value: object, environments: tuple[str, ...]) -> tuple[str, ...]:
    """The `stages` context: the environments to build (all when absent), e.g. `-c stages=dev` for the local
    deploy; ConfigError naming the context key for an empty or unknown one."""
    if value is None:
        return environments
    chosen = tuple(dict.fromkeys(part.strip() for part in str(value).split(",") if part.strip()))
    if not chosen or not set(chosen) <= set(environments):
        raise ConfigError("context stages", value, f"a comma-separated subset of {', '.join(environments)}")
    return chosen


def require_image_tag(tag: object) -> str:
    """The `image_tag` context, or ConfigError naming the context key: missing, mutable or malformed."""
    if not isinstance(tag, str) or tag.lower() in MUTABLE_TAG_NAMES or not IMAGE_TAG.fullmatch(tag):
        raise ConfigError("context image_tag", tag, IMAGE_TAG_ALLOWED)
    return tag


def check_bucket_names(config: TradaiConfig, suffix_field: str = BUCKET_SUFFIX_FIELD) -> None:
    """Every bucket name is a valid, unique S3 name; a bad ``naming.bucket_suffix`` is reported as
    ``suffix_field`` (the loader passes ``context bucket_suffix`` when the value came from the CDK context)."""
    _check_unique("buckets", (b.component for b in config.buckets))
    suffix = config.naming.bucket_suffix
    unsuffixed = {spec.component: config.naming.name(spec.component) for spec in config.buckets}
    if suffix is not None:
        longest = max(unsuffixed.values(), key=len)
        max_length = BUCKET_NAME_LENGTH[1] - len(longest) - 1
        allowed = (
            f"lowercase letters, digits and hyphens, starting and ending with a letter or digit, at most "
            f"{max_length} characters (the longest name, {longest}-<suffix>, may have 63), no name ending in "
            f"{', '.join(RESERVED_BUCKET_ENDINGS)}; e.g. -c bucket_suffix=acme-1 "
            f"(naming.bucket_suffix: spec 9.1's optional -{{suffix}} of every bucket name)"
        )
        if (
            not isinstance(suffix, str)
            or not BUCKET_SUFFIX.fullmatch(suffix)
            or len(suffix) > max_length
            or any(f"{longest}-{suffix}".endswith(ending) for ending in RESERVED_BUCKET_ENDINGS)
        ):
            raise ConfigError(suffix_field, suffix, allowed)
    for component in unsuffixed:
        name = config.bucket_name(component)
        low, high = BUCKET_NAME_LENGTH
        if not low <= len(name) <= high or not BUCKET_NAME.fullmatch(name):
            raise ConfigError(
                f"buckets[{component}] name",
                name,
                f"an S3 bucket name: {low}-{high} lowercase letters, digits and hyphens, "
                f"starting and ending with a letter or digit",
            )


def _check_required(obj: Any, path: str) -> None:
    """No field may be None or empty unless its type admits None (``Optional[X]`` or ``X | None``)."""
    for field in dataclasses.fields(obj):
        value = getattr(obj, field.name)
        where = f"{path}.{field.name}"
        optional = _admits_none(field.type)
        if value is None or value == "":
            if not optional:
                raise ConfigError(where, value, "a non-empty value (required)")
        elif dataclasses.is_dataclass(value):
            _check_required(value, where)
        elif isinstance(value, tuple):
            for index, item in enumerate(value):
                if dataclasses.is_dataclass(item):
                    _check_required(item, f"{where}[{index}]")


def _admits_none(annotation: object) -> bool:
    """Whether a field's annotation (a string: the model postpones evaluation) is ``Optional[X]`` or ``X | None``."""
    return re.search(r"\bOptional\[|\bNone\b", str(annotation)) is not None


def _network(field: str, cidr: str) -> ipaddress.IPv4Network:
    try:
        return ipaddress.IPv4Network(cidr)
    except ValueError as error:
        raise ConfigError(field, cidr, f"an IPv4 CIDR block with no host bits set ({error})") from None


def _check_network(config: TradaiConfig) -> None:
    net = config.network
    vpc = _network("network.vpc_cidr", net.vpc_cidr)
    _check_range("network.vpc_cidr prefix", vpc.prefixlen, (16, 28))
    _check_unique("network.subnets", (s.name for s in net.subnets))
    seen: list[tuple[str, ipaddress.IPv4Network]] = []
    for subnet in net.subnets:
        field = f"network.subnets[{subnet.name}].cidr"
        block = _network(field, subnet.cidr)
        if not block.subnet_of(vpc):
            raise ConfigError(field, subnet.cidr, f"a block inside the VPC {net.vpc_cidr}")
        for other_name, other in seen:
            if block.overlaps(other):
                raise ConfigError(field, subnet.cidr, f"a block that does not overlap {other_name} ({other})")
        seen.append((subnet.name, block))
        _check_one_of(
            f"network.subnets[{subnet.name}].availability_zone", subnet.availability_zone, net.availability_zones
        )
    for tier in SubnetTier:
        azs = {s.availability_zone for s in net.subnets_of(tier)}
        if azs != set(net.availability_zones):
            raise ConfigError(
                f"network.subnets ({tier.value})",
                sorted(azs),
                f"one {tier.value} subnet in each of {', '.join(net.availability_zones)}",
            )
    public = [s.name for s in net.subnets_of(SubnetTier.PUBLIC)]
    _check_one_of("nat.subnet", config.nat.subnet, public)
    if not config.nat.asg_min <= config.nat.asg_desired <= config.nat.asg_max:
        raise ConfigError(
            "nat.asg_desired",
            config.nat.asg_desired,
            f"between asg_min={config.nat.asg_min} and asg_max={config.nat.asg_max}",
        )
    _check_nat_timing(config)


def _check_waf(config: TradaiConfig) -> None:
    _check_unique("waf_rules priorities", (rule.priority for rule in config.waf_rules))
    for rule in config.waf_rules:
        _check_one_of(f"waf_rules[{rule.name}].action", rule.action, ("Block",))
        if (rule.rate_limit_per_5min is None) == (rule.managed_rule_group is None):
            raise ConfigError(
                f"waf_rules[{rule.name}]",
                (rule.rate_limit_per_5min, rule.managed_rule_group),
                "exactly one of rate_limit_per_5min or managed_rule_group",
            )
        if rule.rate_limit_per_5min is not None:
            _check_range(f"waf_rules[{rule.name}].rate_limit_per_5min", rule.rate_limit_per_5min, (10, 2_000_000_000))
    _check_range("waf_blocked_alarm_threshold", config.waf_blocked_alarm_threshold, (1, 1_000_000))


def _check_backtest(config: TradaiConfig) -> None:
    backtest = config.backtest
    _check_one_of("backtest.task", backtest.task, [t.name for t in config.on_demand_tasks])
    _check_range("backtest.task_timeout_minutes", backtest.task_timeout_minutes, (1, backtest.run_timeout_minutes - 5))
    _check_range("backtest.stuck_after_minutes", backtest.stuck_after_minutes, (5, 24 * 60))
    _check_range("backtest.consumer_max_concurrency", backtest.consumer_max_concurrency, (2, 1000))
    if not backtest.data_sync_path.startswith("/"):
        raise ConfigError("backtest.data_sync_path", backtest.data_sync_path, "an absolute path starting with '/'")


def _check_operations(config: TradaiConfig) -> None:
    ops = config.operations
    for name in ("drift_psi_threshold", "performance_drop_threshold", "min_improvement"):
        value = getattr(ops, name)
        if not 0 < value <= 1:
            raise ConfigError(f"operations.{name}", value, "a fraction greater than 0 and at most 1")
    for name in ("performance_metric", "champion_alias"):
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]{0,63}", getattr(ops, name)):
            raise ConfigError(f"operations.{name}", getattr(ops, name), "an MLflow name: letters, digits, _ . -")
    health = config.lambda_spec("health-check").timeout_seconds
    _check_range("operations.health_probe_timeout_seconds", ops.health_probe_timeout_seconds, (1, health // 3))
    detector = config.lambda_spec("infra-drift-detector").timeout_seconds
    _check_range("operations.drift_detection_timeout_seconds", ops.drift_detection_timeout_seconds, (30, detector - 30))
    if ops.train_timeout_minutes + ops.shadow_timeout_minutes >= ops.retraining_timeout_hours * 60:
        raise ConfigError(
            "operations.retraining_timeout_hours",
            ops.retraining_timeout_hours,
            f"more than train + shadow timeouts ({ops.train_timeout_minutes} + {ops.shadow_timeout_minutes} minutes)",
        )
    deployments = config.deployments
    _check_range("deployments.poll_seconds", deployments.poll_seconds, (5, deployments.health_timeout_seconds))
    if deployments.health_timeout_seconds + 300 > deployments.run_timeout_minutes * 60:
        raise ConfigError(
            "deployments.run_timeout_minutes",
            deployments.run_timeout_minutes,
            f"at least the health timeout ({deployments.health_timeout_seconds} s) plus 5 minutes",
        )
    for fn in config.lambdas:
        if fn.trigger == "schedule" and not fn.schedule_minutes:
            raise ConfigError(
                f"lambdas[{fn.name}].schedule_minutes",
                fn.schedule_minutes,
                "a rate in minutes for a scheduled function",
            )


def _check_alarms(config: TradaiConfig) -> None:
    alarms = config.profile.alarms
    for field in dataclasses.fields(alarms):
        if getattr(alarms, field.name) <= 0:
            raise ConfigError(f"profile.alarms.{field.name}", getattr(alarms, field.name), "a positive threshold")
    if alarms.rds_free_storage_gib >= config.rds.allocated_storage_gib:
        raise ConfigError(
            "profile.alarms.rds_free_storage_gib",
            alarms.rds_free_storage_gib,
            f"less than the allocated storage ({config.rds.allocated_storage_gib} GiB)",
        )
    if alarms.api_5xx_percent > 100:
        raise ConfigError("profile.alarms.api_5xx_percent", alarms.api_5xx_percent, "a percentage up to 100")


def _check_nat_timing(config: TradaiConfig) -> None:
    """Readiness must be judged, and the switch done, before the hook's heartbeat runs out (ABANDON)."""
    nat = config.nat
    _check_range("nat.lifecycle_heartbeat_seconds", nat.lifecycle_heartbeat_seconds, HOOK_HEARTBEAT_RANGE)
    _check_range(
        "nat.ready_timeout_seconds",
        nat.ready_timeout_seconds,
        (1, nat.lifecycle_heartbeat_seconds - contract.SWITCH_RESERVE_SECONDS),
    )
    route_function = config.lambda_spec(nat.route_function)
    _check_range(
        "nat.readiness_poll_seconds",
        nat.readiness_poll_seconds,
        (1, route_function.timeout_seconds - contract.SWITCH_RESERVE_SECONDS),
    )


def _check_security_groups(config: TradaiConfig) -> None:
    keys = [sg.key for sg in config.security_groups]
    _check_unique("security_groups", keys)
    _check_unique("security_groups names", (sg.name for sg in config.security_groups))
    for sg in config.security_groups:
        for index, rule in enumerate(sg.rules):
            field = f"security_groups[{sg.key}].rules[{index}]"
            _check_one_of(f"{field}.direction", rule.direction, DIRECTIONS)
            _check_one_of(f"{field}.protocol", rule.protocol, PROTOCOLS)
            _check_range(f"{field}.from_port", rule.from_port, (0, 65535))
            _check_range(f"{field}.to_port", rule.to_port, (rule.from_port, 65535))
            if (rule.peer_cidr is None) == (rule.peer_group is None):
                raise ConfigError(
                    f"{field}.peer", (rule.peer_cidr, rule.peer_group), "exactly one of peer_cidr or peer_group"
                )
            if rule.peer_cidr is not None:
                _network(f"{field}.peer_cidr", rule.peer_cidr)
            else:
                _check_one_of(f"{field}.peer_group", rule.peer_group, keys)


def _check_services(config: TradaiConfig) -> None:
    _check_unique("services", (s.name for s in config.services))
    _check_unique("services ports", (s.port for s in config.services))
    _check_unique("service_discovery", (d.name for d in config.service_discovery))
    _check_unique("service_discovery ports", (d.port for d in config.service_discovery))
    _check_unique("on_demand_tasks", (t.name for t in config.on_demand_tasks))
    ecs_from_alb = [r for r in config.security_group("ecs").ingress() if r.peer_group == "alb"]
    for service in config.services:
        if not any(rule.covers(service.port) for rule in ecs_from_alb):
            allowed = ", ".join(f"{r.from_port}-{r.to_port}" for r in ecs_from_alb)
            raise ConfigError(
                f"services[{service.name}].port", service.port, f"a port the ECS SG admits from the ALB ({allowed})"
            )
        if not service.health_check_path.startswith("/"):
            raise ConfigError(
                f"services[{service.name}].health_check_path",
                service.health_check_path,
                "an absolute path starting with '/'",
            )


def _check_compute_mode(config: TradaiConfig) -> None:
    profile = config.profile
    _check_one_of("profile.executor_mode", profile.executor_mode, SUPPORTED_EXECUTOR_MODES)
    host = profile.consolidated_host
    if profile.compute_mode is ComputeMode.FARGATE:
        return
    if host is None:
        raise ConfigError(
            "profile.consolidated_host", None, f"a host when compute_mode is {profile.compute_mode.value}"
        )
    reservations = dict(host.memory_reservations)
    for service in config.services:
        if service.name not in reservations:
            raise ConfigError(
                "profile.consolidated_host.memory_reservations",
                sorted(reservations),
                f"a reservation for every service (missing {service.name})",
            )
    if sum(reservations.values()) > host.schedulable_memory_mib:
        raise ConfigError(
            "profile.consolidated_host.memory_reservations",
            sum(reservations.values()),
            f"at most {host.schedulable_memory_mib} MiB in total (what {host.instance_type} offers ECS)",
        )
    cpu = sum(service.cpu for service in config.services)
    if cpu > host.vcpus * 1024:
        raise ConfigError("services cpu (consolidated)", cpu, f"at most {host.vcpus * 1024} CPU units")


def _check_tables(config: TradaiConfig) -> None:
    _check_unique("tables", (t.key for t in config.tables))
    for table in config.tables:
        keys = [table.partition_key] + ([table.sort_key] if table.sort_key else [])
        for gsi in table.gsis:
            field = f"tables[{table.key}].gsis[{gsi.name}]"
            _check_one_of(f"{field}.projection", gsi.projection, PROJECTIONS)
            if (gsi.projection == "INCLUDE") != bool(gsi.non_key_attributes):
                raise ConfigError(
                    f"{field}.non_key_attributes",
                    gsi.non_key_attributes,
                    "attributes exactly when the projection is INCLUDE",
                )
            keys += [gsi.partition_key] + ([gsi.sort_key] if gsi.sort_key else [])
        _check_unique(f"tables[{table.key}].gsis", (g.name for g in table.gsis))
        types: dict[str, str] = {}
        for key in keys:
            _check_one_of(f"tables[{table.key}] key {key.name}.type", key.type, KEY_TYPES)
            if types.setdefault(key.name, key.type) != key.type:
                raise ConfigError(
                    f"tables[{table.key}] key {key.name}.type",
                    key.type,
                    f"the type it has elsewhere in the table ({types[key.name]})",
                )


def _check_lambdas(config: TradaiConfig) -> None:
    _check_unique("lambdas", (fn.name for fn in config.lambdas))
    for fn in config.lambdas:
        _check_range(f"lambdas[{fn.name}].memory_mib", fn.memory_mib, LAMBDA_MEMORY_RANGE)
        _check_range(f"lambdas[{fn.name}].timeout_seconds", fn.timeout_seconds, LAMBDA_TIMEOUT_RANGE)


def _check_unique(field: str, values: Iterable[object]) -> None:
    duplicates = [value for value, count in Counter(values).items() if count > 1]
    if duplicates:
        raise ConfigError(field, duplicates[0], "unique values (this one appears more than once)")


def _check_one_of(field: str, value: object, allowed: Iterable[object]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        raise ConfigError(field, _plain(value), f"one of {', '.join(str(_plain(a)) for a in allowed)}")


def _plain(value: object) -> object:
    """Enum members read as their configured value."""
    return getattr(value, "value", value)


def _check_range(field: str, value: int, bounds: tuple[int, int]) -> None:
    low, high = bounds
    if not low <= value <= high:
        raise ConfigError(field, value, f"an integer from {low} to {high}")
