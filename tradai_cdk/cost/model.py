"""What the estimator works on: stacks and resources of a synthesized assembly, and the cost lines it produces."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tradai_cdk.config.model import CostAssumptions

from .prices import PriceTable

HOURS = 730  # hours in a month, as AWS's pricing examples count them
DAYS = HOURS / 24
USAGE_TIER = "usage"  # the group of costs computed from the assumptions rather than from one resource


class NotCosted(Exception):
    """A resource the estimator cannot price; the message says why (it is listed, never counted as zero)."""


@dataclass(frozen=True)
class Stack:
    """One synthesized stack: its tier (persistent, foundation, compute, edge) and its template's resources."""

    env: str
    tier: str
    resources: dict[str, dict]

    def resolve(self, value: Any) -> dict | None:
        """The resource of this stack a ``Ref`` or ``Fn::GetAtt`` points at (None for anything else)."""
        if isinstance(value, dict) and "Ref" in value:
            return self.resources.get(value["Ref"])
        if isinstance(value, dict) and "Fn::GetAtt" in value:
            return self.resources.get(value["Fn::GetAtt"][0])
        return None


@dataclass(frozen=True)
class Resource:
    stack: Stack
    logical_id: str
    type: str

    @property
    def props(self) -> dict:
        return self.stack.resources[self.logical_id].get("Properties", {})

    @property
    def name(self) -> str:
        """The logical id without CDK's hash suffix: readable, and stable across revisions."""
        return re.sub(r"[0-9A-F]{8}$", "", self.logical_id) or self.logical_id


@dataclass(frozen=True)
class Line:
    """One monthly cost: a resource's (tier = its stack's) or a usage aggregate's (tier ``usage``)."""

    tier: str
    name: str
    kind: str  # the resource type, or what the usage line covers
    monthly: float
    detail: str  # how the amount was computed


@dataclass(frozen=True)
class Context:
    """Everything a pricing function may read besides its resource."""

    env: str
    prices: PriceTable
    assumptions: CostAssumptions
    resources: tuple[Resource, ...]

    def of_type(self, type_: str) -> list[Resource]:
        return [r for r in self.resources if r.type == type_]


def usd(amount: float) -> str:
    """A monthly amount: $1,234.56."""
    return f"${amount:,.2f}"


def rate(price: float) -> str:
    """A unit price as the table has it, without float noise: $0.0000133334, $0.024, $5."""
    return "$" + (f"{price:.10f}".rstrip("0").rstrip(".") or "0")
