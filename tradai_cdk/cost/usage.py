"""Usage-based monthly costs: the environment's assumptions (``CostAssumptions``) priced over the resources of the
templates that incur them. ``USAGE`` maps each such type to its aggregate; on-demand Fargate tasks are priced per
task definition, on the capacity provider the templates launch them with.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from tradai_cdk.config.canonical import BACKTEST

from .model import DAYS, HOURS, USAGE_TIER, Context, Line, NotCosted, Resource, rate
from .prices import PriceTableError
from .resources import Costing, fargate

YEAR_DAYS = 365  # log storage counts at most a year of retention (never-expiring groups included)


def _lambda(functions: list[Resource], ctx: Context) -> Costing:
    a, p = ctx.assumptions, ctx.prices
    share = a.lambda_invocations_per_month / len(functions)
    gb_seconds: dict[str, float] = {}
    for fn in functions:
        arch = (fn.props.get("Architectures") or ["x86_64"])[0]
        seconds = share * a.lambda_average_ms / 1000
        gb_seconds[arch] = gb_seconds.get(arch, 0) + seconds * fn.props.get("MemorySize", 128) / 1024
    compute = sum(gbs * p[f"lambda.{arch}.compute"] for arch, gbs in gb_seconds.items())
    requests = a.lambda_invocations_per_month / 1e6 * p["lambda.requests"]
    return requests + compute, (
        f"{a.lambda_invocations_per_month:,} invocations × {rate(p['lambda.requests'])}/M "
        f"+ {sum(gb_seconds.values()):,.0f} GB-s ({a.lambda_average_ms} ms each, spread evenly "
        f"over {len(functions)} functions' memory sizes)"
    )


def _dynamodb(tables: list[Resource], ctx: Context) -> Costing:
    a, p = ctx.assumptions, ctx.prices
    pitr = [t for t in tables if t.props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled")]
    pitr_gib = a.dynamodb_storage_gib * len(pitr) / len(tables)
    return (
        a.dynamodb_reads_per_month / 1e6 * p["dynamodb.on_demand.read"]
        + a.dynamodb_writes_per_month / 1e6 * p["dynamodb.on_demand.write"]
        + a.dynamodb_storage_gib * p["dynamodb.storage"]
        + pitr_gib * p["dynamodb.pitr"],
        f"{len(tables)} on-demand tables: {a.dynamodb_reads_per_month / 1e6:g} M reads × "
        f"{rate(p['dynamodb.on_demand.read'])} + {a.dynamodb_writes_per_month / 1e6:g} M writes × "
        f"{rate(p['dynamodb.on_demand.write'])} + {a.dynamodb_storage_gib:g} GiB × {rate(p['dynamodb.storage'])} "
        f"+ PITR {pitr_gib:.2f} GiB ({len(pitr)} tables' share) × {rate(p['dynamodb.pitr'])}",
    )


def _sqs(queues: list[Resource], ctx: Context) -> Costing:
    millions = ctx.assumptions.sqs_requests_per_month / 1e6
    fifo = [q for q in queues if str(q.props.get("FifoQueue")).lower() == "true"]
    per_queue = millions / len(queues)
    amount = per_queue * (len(fifo) * ctx.prices["sqs.fifo"] + (len(queues) - len(fifo)) * ctx.prices["sqs.standard"])
    return amount, (
        f"{millions:g} M requests spread evenly over {len(queues)} queues ({len(fifo)} FIFO × "
        f"{rate(ctx.prices['sqs.fifo'])}/M, others × {rate(ctx.prices['sqs.standard'])}/M)"
    )


def _step_functions(machines: list[Resource], ctx: Context) -> Costing:
    thousands = ctx.assumptions.step_function_transitions_per_month / 1000
    price = ctx.prices["stepfunctions.standard"]
    return thousands * price, f"{len(machines)} standard workflows: {thousands:,.0f} k transitions × {rate(price)}"


def _per_gib(key: str, field: str, what: str) -> Callable[[list[Resource], Context], Costing]:
    def aggregate(resources: list[Resource], ctx: Context) -> Costing:
        gib = getattr(ctx.assumptions, field)
        return gib * ctx.prices[key], f"{gib:g} GiB over {len(resources)} {what} × {rate(ctx.prices[key])}"

    return aggregate


def _logs(groups: list[Resource], ctx: Context) -> Costing:
    """Ingestion, and each group's even share stored for its retention (at most a year)."""
    gb, p = ctx.assumptions.log_gb_per_month, ctx.prices
    share = gb / len(groups)
    stored = sum(
        share * min(int(g.props.get("RetentionInDays", YEAR_DAYS)), YEAR_DAYS) / (YEAR_DAYS / 12) for g in groups
    )
    return (
        gb * p["cloudwatch.logs.ingestion"] + stored * p["cloudwatch.logs.storage"],
        f"{gb:g} GB ingested × {rate(p['cloudwatch.logs.ingestion'])} + {stored:,.1f} GB stored "
        f"(even share of {len(groups)} groups, each for its retention) × {rate(p['cloudwatch.logs.storage'])}",
    )


def _api_requests(apis: list[Resource], ctx: Context) -> Costing:
    millions = ctx.assumptions.api_requests_per_month / 1e6
    price = ctx.prices["apigateway.rest.requests"]
    return millions * price, f"{millions:g} M requests × {rate(price)}/M"


def _internet_egress(gateways: list[Resource], ctx: Context) -> Costing:
    gb, price = ctx.assumptions.nat_egress_gb_per_month, ctx.prices["data_transfer.internet_out"]
    return gb * price, f"{gb:g} GB out to the internet × {rate(price)}"


def _on_demand_billing(table: Resource) -> str | None:
    return None if table.props.get("BillingMode") == "PAY_PER_REQUEST" else "provisioned capacity is not priced"


def _standard_workflow(machine: Resource) -> str | None:
    standard = machine.props.get("StateMachineType", "STANDARD") == "STANDARD"
    return None if standard else "EXPRESS workflows are not priced"


@dataclass(frozen=True)
class Usage:
    label: str
    aggregate: Callable[[list[Resource], Context], Costing]
    not_costed: Callable[[Resource], str | None] = lambda resource: None  # why a resource is left out


USAGE: dict[str, Usage] = {
    "AWS::Lambda::Function": Usage("Lambda", _lambda),
    "AWS::DynamoDB::Table": Usage("DynamoDB", _dynamodb, _on_demand_billing),
    "AWS::SQS::Queue": Usage("SQS", _sqs),
    "AWS::StepFunctions::StateMachine": Usage("Step Functions", _step_functions, _standard_workflow),
    "AWS::S3::Bucket": Usage("S3 storage", _per_gib("s3.standard", "s3_storage_gib", "buckets (S3 Standard)")),
    "AWS::ECR::Repository": Usage("ECR storage", _per_gib("ecr.storage", "ecr_storage_gib", "repositories")),
    "AWS::Logs::LogGroup": Usage("CloudWatch Logs", _logs),
    "AWS::ApiGateway::RestApi": Usage("API Gateway", _api_requests),
    "AWS::EC2::InternetGateway": Usage("Internet egress", _internet_egress),
}


def usage_lines(ctx: Context) -> tuple[list[Line], list[tuple[Resource, str]]]:
    """The usage lines of one environment, and the resources left out (with the reason)."""
    lines, not_costed = [], []
    for type_, usage in USAGE.items():
        checked = [(r, usage.not_costed(r)) for r in ctx.of_type(type_)]
        not_costed += [(r, why) for r, why in checked if why]
        costed = [r for r, why in checked if not why]
        if not costed:
            continue
        try:
            lines.append(Line(USAGE_TIER, usage.label, type_, *usage.aggregate(costed, ctx)))
        except (NotCosted, PriceTableError) as why:
            not_costed += [(r, str(why)) for r in costed]
    providers = launchers(ctx.resources)
    for task in on_demand_task_definitions(ctx):
        try:
            lines.append(
                Line(
                    USAGE_TIER,
                    f"Fargate tasks {task.props['Family']}",
                    task.type,
                    *on_demand_task(task, providers, ctx),
                )
            )
        except (NotCosted, PriceTableError) as why:
            not_costed.append((task, str(why)))
    return lines, not_costed


def on_demand_task_definitions(ctx: Context) -> list[Resource]:
    """Fargate task definitions no ECS service runs: tasks started on demand."""
    services = {(s.stack.tier, json.dumps(s.props.get("TaskDefinition"))) for s in ctx.of_type("AWS::ECS::Service")}
    return [
        t
        for t in ctx.of_type("AWS::ECS::TaskDefinition")
        if "FARGATE" in t.props.get("RequiresCompatibilities", [])
        and (t.stack.tier, json.dumps({"Ref": t.logical_id})) not in services
    ]


def on_demand_task(task: Resource, providers: dict[str, set[str]], ctx: Context) -> Costing:
    """The assumed task hours (backtests, live and dry-run strategies) on the launchers' capacity provider."""
    a, family = ctx.assumptions, task.props["Family"]
    assumed = {
        BACKTEST.task: (
            a.backtests_per_day * a.backtest_minutes / 60 * DAYS,
            f"{a.backtests_per_day}/day × {a.backtest_minutes} min",
        ),
        "live-trading": (a.live_trading_tasks * HOURS, f"{a.live_trading_tasks} always running"),
        "dry-run-trading": (a.dry_run_tasks * HOURS, f"{a.dry_run_tasks} always running"),
    }
    hours, why = next(
        (v for task_name, v in assumed.items() if family.endswith(f"{task_name}-{ctx.env}")), (None, None)
    )
    if hours is None:
        raise NotCosted(f"no usage assumption for on-demand task family {family}")
    launched = providers.get(family, set())
    provider = "FARGATE" if "FARGATE" in launched or not launched else "FARGATE_SPOT"
    amount, size = fargate(task.stack.resources[task.logical_id], provider, hours, ctx)
    source = "" if launched else " (no launcher found in the templates: priced on-demand)"
    return amount, f"assumed {why} = {hours:,.1f} task-h × {size}{source}"


def launchers(resources: tuple[Resource, ...]) -> dict[str, set[str]]:
    """Task family -> the capacity providers the templates launch it with: ECS RunTask states of state machines
    (``TaskDefinition`` + ``CapacityProviderStrategy``) and JSON settings of functions (``family`` +
    ``capacity_provider``)."""
    found: dict[str, set[str]] = {}
    for resource in resources:
        for obj in _json_objects(resource.props):
            family = obj.get("TaskDefinition", obj.get("family"))
            strategy = obj.get("CapacityProviderStrategy") or [{"CapacityProvider": obj.get("capacity_provider")}]
            provider = strategy[0].get("CapacityProvider") if isinstance(strategy[0], dict) else None
            if isinstance(family, str) and isinstance(provider, str):
                found.setdefault(family, set()).add(provider)
    return found


def _json_objects(value: Any) -> Iterator[dict]:
    """Every JSON object embedded in a template value, as a string or an ``Fn::Join`` (tokens blanked)."""
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        value = separator.join(p if isinstance(p, str) else "" for p in parts)
    if isinstance(value, str) and value.startswith("{"):
        try:
            yield from _objects(json.loads(value))
        except ValueError:
            return
    elif isinstance(value, dict):
        for item in value.values():
            yield from _json_objects(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_objects(item)


def _objects(value: Any) -> Iterator[dict]:
    if isinstance(value, dict):
        yield value
        value = list(value.values())
    if isinstance(value, list):
        for item in value:
            yield from _objects(item)
