"""One environment's monthly estimate from its synthesized stacks, and the spec's cost choices next to their
alternatives (NAT instance vs NAT gateway, the consolidated ECS host vs Fargate)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from tradai_cdk.config.model import CostAssumptions

from .model import HOURS, USAGE_TIER, Context, Line, NotCosted, Resource, Stack, rate, usd
from .prices import PriceTable, PriceTableError
from .resources import FREE, PRICED, auto_scaling_group, fargate, has_public_address
from .usage import USAGE, usage_lines

TIERS = ("persistent", "foundation", "compute", "edge", USAGE_TIER)
UNKNOWN = "unknown resource type: neither priced, usage-priced nor free in tradai_cdk/cost"


@dataclass(frozen=True)
class Comparison:
    """A design choice of the spec: what is deployed and what the alternative would cost in the same environment."""

    chosen: str
    chosen_monthly: float
    alternative: str
    alternative_monthly: float
    note: str

    @property
    def saving(self) -> float:
        return self.alternative_monthly - self.chosen_monthly


@dataclass(frozen=True)
class NotCostedResource:
    tier: str
    name: str
    type: str
    reason: str


@dataclass(frozen=True)
class EnvEstimate:
    env: str
    assumptions: CostAssumptions
    lines: tuple[Line, ...]
    free: tuple[tuple[str, int], ...]  # type, count
    not_costed: tuple[NotCostedResource, ...]
    comparisons: tuple[Comparison, ...]

    @property
    def total(self) -> float:
        return sum(line.monthly for line in self.lines)

    def by_tier(self) -> dict[str, float]:
        return {tier: sum(line.monthly for line in self.lines if line.tier == tier) for tier in TIERS}


def estimate_env(env: str, stacks: list[Stack], prices: PriceTable, assumptions: CostAssumptions) -> EnvEstimate:
    """Every resource of ``stacks`` priced, counted as free, or listed as not costed; plus the usage lines."""
    resources = tuple(
        Resource(stack, logical_id, body["Type"]) for stack in stacks for logical_id, body in stack.resources.items()
    )
    ctx = Context(env, prices, assumptions, resources)
    lines: list[Line] = []
    not_costed: list[tuple[Resource, str]] = []
    free: Counter[str] = Counter()
    for r in resources:
        if r.type in PRICED:
            try:
                lines.append(Line(r.stack.tier, r.name, r.type, *PRICED[r.type](r, ctx)))
            except (NotCosted, PriceTableError) as why:
                not_costed.append((r, str(why)))
        elif r.type in FREE:
            free[r.type] += 1
        elif r.type not in USAGE:
            not_costed.append((r, UNKNOWN))
    usage, left_out = usage_lines(ctx)
    return EnvEstimate(
        env,
        assumptions,
        tuple(lines + usage),
        tuple(sorted(free.items())),
        tuple(NotCostedResource(r.stack.tier, r.name, r.type, why) for r, why in not_costed + left_out),
        tuple(nat_vs_gateway(ctx) + host_vs_fargate(ctx)),
    )


def nat_vs_gateway(ctx: Context) -> list[Comparison]:
    """The NAT instance as deployed against a NAT gateway's hours and processing of the assumed egress."""
    comparisons = []
    for asg in ctx.of_type("AWS::AutoScaling::AutoScalingGroup"):
        try:
            if not has_public_address(asg):
                continue
            monthly, detail = auto_scaling_group(asg, ctx)
        except (NotCosted, PriceTableError):
            continue  # listed as not costed already
        gb, p = ctx.assumptions.nat_egress_gb_per_month, ctx.prices
        gateway = HOURS * p["vpc.nat_gateway"] + gb * p["vpc.nat_gateway.data"]
        comparisons.append(
            Comparison(
                f"NAT instance {asg.name}: {detail}",
                monthly,
                f"NAT gateway: {HOURS} h × {rate(p['vpc.nat_gateway'])} + {gb:g} GB processed × "
                f"{rate(p['vpc.nat_gateway.data'])}",
                gateway,
                "both need the Elastic IP and pay the same internet egress: left out of both",
            )
        )
    return comparisons


def host_vs_fargate(ctx: Context) -> list[Comparison]:
    """Each ECS capacity provider's instances against Fargate (on-demand) for the services it runs, at the
    sizes their containers ask for."""
    comparisons = []
    for provider in ctx.of_type("AWS::ECS::CapacityProvider"):
        asg_ref = provider.props.get("AutoScalingGroupProvider", {}).get("AutoScalingGroupArn", {})
        asg = next(
            (
                r
                for r in ctx.of_type("AWS::AutoScaling::AutoScalingGroup")
                if r.stack is provider.stack and asg_ref == {"Ref": r.logical_id}
            ),
            None,
        )
        services = [
            s
            for s in ctx.of_type("AWS::ECS::Service")
            if s.stack is provider.stack
            and {"Ref": provider.logical_id}
            in [c["CapacityProvider"] for c in s.props.get("CapacityProviderStrategy", [])]
        ]
        if asg is None or not services:
            continue
        try:
            monthly, detail = auto_scaling_group(asg, ctx)
            equivalents = [_fargate_equivalent(s, ctx) for s in services]
        except (NotCosted, PriceTableError, KeyError):
            continue  # a size the containers do not state cannot be compared
        comparisons.append(
            Comparison(
                f"ECS host {asg.name}: {detail}",
                monthly,
                f"Fargate for its {len(services)} services: " + "; ".join(d for _, d in equivalents),
                sum(amount for amount, _ in equivalents),
                f"Fargate task size = the sum of each service's container CPU and memory; desired count × {HOURS} h",
            )
        )
    return comparisons


def _fargate_equivalent(service: Resource, ctx: Context) -> tuple[float, str]:
    task = (service.stack.resolve(service.props["TaskDefinition"]) or {})["Properties"]
    containers = task["ContainerDefinitions"]
    size = {
        "Properties": {
            "Cpu": sum(int(c["Cpu"]) for c in containers),
            "Memory": sum(int(c.get("Memory", c["MemoryReservation"])) for c in containers),
            "RuntimePlatform": task.get("RuntimePlatform", {}),
        }
    }
    count = int(service.props.get("DesiredCount", 1))
    amount, detail = fargate(size, "FARGATE", count * HOURS, ctx)
    return amount, f"{service.name} {count} × {detail} = {usd(amount)}"
