"""The route audit: every few minutes, check that each private route table's 0.0.0.0/0 reaches a running
NAT instance. It only reports (metric RoutesUnusable, alarmed): repairing is the lifecycle hook's job, and
a route the audit cannot explain needs a human."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .aws_access import NatAws
from .plan import Holder

SCHEDULED_EVENT = ("aws.events", "Scheduled Event")


def is_scheduled(event: Any) -> bool:
    return isinstance(event, dict) and (event.get("source"), event.get("detail-type")) == SCHEDULED_EVENT


def route_problem(holder: Holder | None) -> str | None:
    """Why a default route cannot carry traffic, or None when it targets a running instance."""
    if holder is None:
        return "no 0.0.0.0/0 route"
    if holder.blackholed:
        return f"0.0.0.0/0 -> {holder.target} is blackholed"
    if holder.instance is None:
        return f"0.0.0.0/0 -> {holder.target}, which is not an instance EC2 knows"
    if holder.instance.state != "running":
        return f"0.0.0.0/0 -> {holder.instance.instance_id}, which is {holder.instance.state}"
    return None


def unusable_routes(aws: NatAws, route_table_ids: Iterable[str]) -> dict[str, str]:
    """Route table id -> problem, for each table whose default route cannot carry traffic."""
    found = {table: route_problem(aws.route_holder(table)) for table in route_table_ids}
    return {table: problem for table, problem in found.items() if problem}
