"""Monthly cost of one resource from its template properties: ``PRICED`` maps a type to its pricing function.

A pricing function returns ``(monthly USD, how it was computed)`` or raises NotCosted. ``FREE`` lists the types
that have no charge of their own, with the reason: the difference between free and not costed stays explicit.
"""

from __future__ import annotations

from collections.abc import Callable

from .model import HOURS, Context, NotCosted, Resource, rate

Costing = tuple[float, str]


def _sum(parts: list[Costing]) -> Costing:
    return sum(amount for amount, _ in parts), " + ".join(detail for _, detail in parts)


def _hourly(count: float, key: str, what: str, ctx: Context) -> Costing:
    price = ctx.prices[key]
    return count * HOURS * price, f"{count:g} × {what} × {HOURS} h × {rate(price)}"


def launch_template_data(asg: Resource) -> dict:
    """The launch template data of an Auto Scaling group (NotCosted unless it is a template of the same stack)."""
    template = asg.stack.resolve(asg.props.get("LaunchTemplate", {}).get("LaunchTemplateId"))
    if template is None:
        raise NotCosted("instances not from a launch template of the same stack")
    return template["Properties"]["LaunchTemplateData"]


def has_public_address(asg: Resource) -> bool:
    """Instances get a public IPv4 address: TradAI's NAT instance is the one group that does (spec 1.4)."""
    interfaces = launch_template_data(asg).get("NetworkInterfaces", [])
    return any(str(i.get("AssociatePublicIpAddress")).lower() == "true" for i in interfaces)


def auto_scaling_group(r: Resource, ctx: Context) -> Costing:
    """Instances at the desired capacity (else the minimum), their gp3 volumes and detailed monitoring."""
    data = launch_template_data(r)
    count = int(r.props.get("DesiredCapacity", r.props.get("MinSize", 0)))
    itype = data["InstanceType"]
    parts = [_hourly(count, f"ec2.{itype}", itype, ctx)]
    for mapping in data.get("BlockDeviceMappings", []):
        ebs = mapping.get("Ebs", {})
        if ebs.get("VolumeType") != "gp3" or "VolumeSize" not in ebs:
            raise NotCosted(f"{mapping.get('DeviceName')}: only gp3 volumes of a stated size are priced")
        gib = count * int(ebs["VolumeSize"])
        parts.append((gib * ctx.prices["ebs.gp3"], f"{gib} GiB gp3 × {rate(ctx.prices['ebs.gp3'])}"))
    if str(data.get("Monitoring", {}).get("Enabled")).lower() == "true":
        price = ctx.prices["ec2.detailed_monitoring"]
        parts.append((count * price, f"detailed monitoring {count} × {rate(price)}"))
    return _sum(parts)


def fargate(task_definition: dict | None, provider: str, task_hours: float, ctx: Context) -> Costing:
    """``task_hours`` of a Fargate task of this definition's size and CPU architecture on ``provider``; the detail
    gives the size and hourly price."""
    props = (task_definition or {}).get("Properties", {})
    if "Cpu" not in props or "Memory" not in props:
        raise NotCosted("task definition without a task-level Cpu and Memory")
    arch = props.get("RuntimePlatform", {}).get("CpuArchitecture", "X86_64").lower()
    prefix = {"FARGATE": "fargate", "FARGATE_SPOT": "fargate_spot"}[provider]
    vcpu, gb = int(props["Cpu"]) / 1024, int(props["Memory"]) / 1024
    per_hour = vcpu * ctx.prices[f"{prefix}.{arch}.vcpu"] + gb * ctx.prices[f"{prefix}.{arch}.memory"]
    return task_hours * per_hour, f"({vcpu:g} vCPU + {gb:g} GB) {arch} {provider} at {rate(round(per_hour, 6))}/h"


def ecs_service(r: Resource, ctx: Context) -> Costing:
    """Fargate tasks at the desired count; tasks on an EC2 capacity provider are costed with its instances."""
    strategy = r.props.get("CapacityProviderStrategy") or [{"CapacityProvider": r.props.get("LaunchType", "EC2")}]
    if len(strategy) != 1:
        raise NotCosted("a mixed capacity provider strategy is not priced")
    provider, count = strategy[0]["CapacityProvider"], int(r.props.get("DesiredCount", 1))
    if provider not in ("FARGATE", "FARGATE_SPOT"):
        return 0.0, f"{count} task(s) on EC2 capacity: costed with the instances of its Auto Scaling group"
    amount, size = fargate(r.stack.resolve(r.props["TaskDefinition"]), provider, count * HOURS, ctx)
    return amount, f"{count} task(s) × {HOURS} h × {size}"


def ecs_cluster(r: Resource, ctx: Context) -> Costing:
    """Container Insights (standard): custom metrics for the cluster and for each of its services."""
    settings = {s["Name"]: s["Value"] for s in r.props.get("ClusterSettings", [])}
    insights = settings.get("containerInsights", "disabled")
    if insights == "disabled":
        return 0.0, "no charge (Container Insights off)"
    if insights != "enabled":
        raise NotCosted(f"Container Insights {insights!r} is priced per observation, not estimated")
    services = [
        s
        for s in ctx.of_type("AWS::ECS::Service")
        if s.stack is r.stack and s.props.get("Cluster") == {"Ref": r.logical_id}
    ]
    a = ctx.assumptions
    metrics = a.container_insights_cluster_metrics + len(services) * a.container_insights_service_metrics
    price = ctx.prices["cloudwatch.metric"]
    return metrics * price, (
        f"Container Insights: ({a.container_insights_cluster_metrics} + {len(services)} services "
        f"× {a.container_insights_service_metrics}) metrics × {rate(price)}"
    )


def rds_instance(r: Resource, ctx: Context) -> Costing:
    """Instance hours and storage (twice both when Multi-AZ), and backups beyond the free allowance."""
    if r.props.get("Engine") != "postgres":
        raise NotCosted(f"engine {r.props.get('Engine')!r}: only PostgreSQL prices are in the table")
    copies = 2 if str(r.props.get("MultiAZ")).lower() == "true" else 1
    cls, gib = r.props["DBInstanceClass"], int(r.props["AllocatedStorage"])
    storage_key = f"rds.{r.props.get('StorageType', 'gp2')}"
    days = int(r.props.get("BackupRetentionPeriod", 1))
    backup_gib = days * ctx.assumptions.rds_changed_gib_per_day
    az = "Multi-AZ" if copies == 2 else "Single-AZ"
    return _sum(
        [
            _hourly(copies, f"rds.{cls}", f"{cls} ({az})", ctx),
            (
                copies * gib * ctx.prices[storage_key],
                f"{copies} × {gib} GiB {storage_key[4:]} × {rate(ctx.prices[storage_key])}",
            ),
            (
                backup_gib * ctx.prices["rds.backup"],
                f"backups {days} d × {ctx.assumptions.rds_changed_gib_per_day:g} GiB/d"
                f" × {rate(ctx.prices['rds.backup'])}",
            ),
        ]
    )


def load_balancer(r: Resource, ctx: Context) -> Costing:
    """ALB hours, the assumed average LCUs, and a public IPv4 address per subnet when internet-facing."""
    if r.props.get("Type", "application") != "application":
        raise NotCosted(f"{r.props['Type']} load balancers are not priced")
    parts = [
        _hourly(1, "elb.alb", "ALB", ctx),
        _hourly(ctx.assumptions.alb_average_lcus, "elb.alb.lcu", "LCU (assumed)", ctx),
    ]
    if r.props.get("Scheme", "internet-facing") == "internet-facing":
        parts.append(_hourly(len(r.props.get("Subnets", [])), "vpc.public_ipv4", "public IPv4", ctx))
    return _sum(parts)


def elastic_ip(r: Resource, ctx: Context) -> Costing:
    return _hourly(1, "vpc.public_ipv4", "public IPv4", ctx)


def vpc_endpoint(r: Resource, ctx: Context) -> Costing:
    """Gateway endpoints are free; interface endpoints are paid per AZ (subnet) and hour."""
    if r.props.get("VpcEndpointType", "Gateway") == "Gateway":
        return 0.0, "gateway endpoint: no charge"
    return _hourly(len(r.props.get("SubnetIds", [])), "vpc.interface_endpoint", "endpoint AZ", ctx)


def web_acl(r: Resource, ctx: Context) -> Costing:
    """The web ACL, its rules (a managed rule group is one rule) and the requests it inspects (the API's)."""
    rules, p = len(r.props.get("Rules", [])), ctx.prices
    millions = ctx.assumptions.api_requests_per_month / 1e6
    return _sum(
        [
            (p["waf.web_acl"], f"web ACL {rate(p['waf.web_acl'])}"),
            (rules * p["waf.rule"], f"{rules} rules × {rate(p['waf.rule'])}"),
            (millions * p["waf.requests"], f"{millions:g} M requests × {rate(p['waf.requests'])}"),
        ]
    )


def trail(r: Resource, ctx: Context) -> Costing:
    """The environment's first trail records management events for free; anything more is not estimated."""
    if r.props.get("EventSelectors") or r.props.get("AdvancedEventSelectors"):
        raise NotCosted("event selectors (data events, $0.10 per 100,000) are not estimated")
    if ctx.of_type(r.type)[0] is not r:
        raise NotCosted("a further trail's management events cost $2.00 per 100,000: not estimated")
    entry = ctx.prices.entry("cloudtrail.management_events")
    return entry.price, f"management events: {entry.note}"


def _flat(key: str, what: str) -> Callable[[Resource, Context], Costing]:
    def price(r: Resource, ctx: Context) -> Costing:
        return ctx.prices[key], f"{what} {rate(ctx.prices[key])}"

    price.__doc__ = f"One {what} a month."
    return price


def alarm(r: Resource, ctx: Context) -> Costing:
    """Per metric the alarm evaluates (metric math alarms pay each metric), high resolution below 60 s."""
    metrics = [m["MetricStat"] for m in r.props.get("Metrics", []) if "MetricStat" in m] or [r.props]
    key = (
        "cloudwatch.alarm.high_resolution"
        if any(int(m.get("Period", 60)) < 60 for m in metrics)
        else "cloudwatch.alarm"
    )
    return len(metrics) * ctx.prices[key], f"{len(metrics)} metric(s) × {rate(ctx.prices[key])}"


PRICED: dict[str, Callable[[Resource, Context], Costing]] = {
    "AWS::AutoScaling::AutoScalingGroup": auto_scaling_group,
    "AWS::ECS::Service": ecs_service,
    "AWS::ECS::Cluster": ecs_cluster,
    "AWS::RDS::DBInstance": rds_instance,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": load_balancer,
    "AWS::EC2::EIP": elastic_ip,
    "AWS::EC2::VPCEndpoint": vpc_endpoint,
    "AWS::WAFv2::WebACL": web_acl,
    "AWS::CloudTrail::Trail": trail,
    "AWS::SecretsManager::Secret": _flat("secretsmanager.secret", "secret"),
    "AWS::CloudWatch::Alarm": alarm,
    "AWS::CloudWatch::Dashboard": _flat("cloudwatch.dashboard", "dashboard"),
    "AWS::KMS::Key": _flat("kms.key", "customer managed key"),
    "AWS::ServiceDiscovery::PrivateDnsNamespace": _flat("route53.hosted_zone", "private hosted zone"),
}

_NETWORK = "VPC networking objects have no charge"
_IAM = "IAM has no charge"
_API = "part of the REST API, whose requests are costed in usage"
_LB = "part of the load balancer, costed by its hours and LCUs"
FREE: dict[str, str] = {
    "AWS::IAM::Role": _IAM,
    "AWS::IAM::Policy": _IAM,
    "AWS::IAM::InstanceProfile": _IAM,
    "AWS::EC2::VPC": _NETWORK,
    "AWS::EC2::Subnet": _NETWORK,
    "AWS::EC2::RouteTable": _NETWORK,
    "AWS::EC2::Route": _NETWORK,
    "AWS::EC2::SubnetRouteTableAssociation": _NETWORK,
    "AWS::EC2::VPCGatewayAttachment": _NETWORK,
    "AWS::EC2::SecurityGroup": _NETWORK,
    "AWS::EC2::SecurityGroupIngress": _NETWORK,
    "AWS::EC2::SecurityGroupEgress": _NETWORK,
    "AWS::CloudFormation::WaitConditionHandle": "no charge (a CloudFormation placeholder resource)",
    "AWS::EC2::FlowLog": "no charge of its own; its records are CloudWatch Logs ingestion (usage)",
    "AWS::EC2::LaunchTemplate": "no charge; its instances are costed with their Auto Scaling group",
    "AWS::ECS::TaskDefinition": "no charge; tasks are costed where they run (a service, or on-demand in usage)",
    "AWS::ECS::CapacityProvider": "no charge; its instances are costed with their Auto Scaling group",
    "AWS::ECS::ClusterCapacityProviderAssociations": "no charge",
    "AWS::ElasticLoadBalancingV2::Listener": _LB,
    "AWS::ElasticLoadBalancingV2::ListenerRule": _LB,
    "AWS::ElasticLoadBalancingV2::TargetGroup": _LB,
    "AWS::ApiGateway::Authorizer": _API,
    "AWS::ApiGateway::Deployment": _API,
    "AWS::ApiGateway::Method": _API,
    "AWS::ApiGateway::Model": _API,
    "AWS::ApiGateway::RequestValidator": _API,
    "AWS::ApiGateway::Resource": _API,
    "AWS::ApiGateway::Stage": _API + " (no cache cluster)",
    "AWS::ApiGatewayV2::VpcLink": "VPC links (v2) have no charge",
    "AWS::Cognito::UserPool": "priced per monthly active user beyond the 10,000 free a month; TradAI's are far fewer",
    "AWS::Cognito::UserPoolClient": "no charge",
    "AWS::Events::Rule": "scheduled rules and AWS service events have no charge",
    "AWS::KMS::Alias": "no charge",
    "AWS::Lambda::EventInvokeConfig": "no charge",
    "AWS::Lambda::Permission": "no charge",
    "AWS::Lambda::EventSourceMapping": "no charge; its polling is SQS requests (usage)",
    "AWS::RDS::DBParameterGroup": "no charge",
    "AWS::RDS::DBSubnetGroup": "no charge",
    "AWS::S3::BucketPolicy": "no charge",
    "AWS::SQS::QueuePolicy": "no charge",
    "AWS::SNS::Topic": "the first 1,000 email deliveries and million publishes a month are free; alerts stay below",
    "AWS::SNS::TopicPolicy": "no charge",
    "AWS::SecretsManager::SecretTargetAttachment": "no charge",
    "AWS::ServiceDiscovery::Service": "no charge of its own (ECS registers the instances; DNS queries negligible)",
    "AWS::WAFv2::WebACLAssociation": "no charge",
    "AWS::WAFv2::LoggingConfiguration": "no charge of its own; the logs are CloudWatch Logs ingestion (usage)",
}
