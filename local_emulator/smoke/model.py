"""What a smoke checker sees (a deployed stack, the config, clients) and what it records."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Optional

from ..assembly import StackArtifact

if TYPE_CHECKING:
    from tradai_cdk.config import TradaiConfig


@dataclass(frozen=True)
class Resource:
    """A template resource the emulator reports as created."""

    logical_id: str
    type: str
    physical_id: str
    properties: dict


class StackView:
    """A synthesized stack joined with the emulator's ListStackResources answer."""

    def __init__(self, artifact: StackArtifact, deployed: dict[str, str]):
        self.artifact = artifact
        self.deployed = deployed

    @property
    def construct_id(self) -> str:
        return self.artifact.construct_id

    @property
    def stack_name(self) -> str:
        return self.artifact.stack_name

    def of_type(self, resource_type: str) -> list[Resource]:
        return [Resource(lid, body["Type"], self.deployed[lid], body.get("Properties", {}))
                for lid, body in self.artifact.resources.items()
                if body["Type"] == resource_type and lid in self.deployed]

    def by_physical_id(self, resource_type: str) -> dict[str, Resource]:
        return {r.physical_id: r for r in self.of_type(resource_type)}

    def resolve(self, value: Any) -> Any:
        """A literal as-is; ``Ref``/``Fn::GetAtt`` of a deployed resource as its physical id."""
        if isinstance(value, dict):
            target = value.get("Ref") or (value.get("Fn::GetAtt") or [None])[0]
            return self.deployed.get(target)
        return value


@dataclass(frozen=True)
class Finding:
    """One check: ``kind`` is ok, fail, not_kept or missing; ``logical_id`` None means the stack."""

    kind: str
    logical_id: Optional[str]
    text: str


@dataclass
class Findings:
    items: list[Finding] = field(default_factory=list)

    def ok(self, logical_id: Optional[str], what: str) -> None:
        self.items.append(Finding("ok", logical_id, what))

    def fail(self, logical_id: Optional[str], what: str, expected: Any, actual: Any) -> None:
        self.items.append(Finding("fail", logical_id, f"{what}: expected {expected}, got {actual}"))

    def not_kept(self, logical_id: str, what: str) -> None:
        self.items.append(Finding("not_kept", logical_id, what))

    def missing(self, what: str) -> None:
        self.items.append(Finding("missing", None, what))

    def expect(self, logical_id: Optional[str], what: str, expected: Any, actual: Any) -> bool:
        if expected == actual:
            self.ok(logical_id, f"{what} {expected}")
            return True
        self.fail(logical_id, what, expected, actual)
        return False

    def dropped(self, logical_id: str, what: str, expected: Any, declared: Any) -> None:
        """A property the emulator does not apply: only the template can be compared, never verified."""
        if declared == expected:
            self.not_kept(logical_id, f"{what} (template {declared!r}, not applied by moto)")
        else:
            self.fail(logical_id, f"{what} in the template", expected, declared)

    def holds(self, logical_id: Optional[str], what: str, condition: bool, otherwise: Any = "no") -> bool:
        """``what`` is verified if ``condition``, else failed with ``otherwise`` as the actual state."""
        if condition:
            self.ok(logical_id, what)
        else:
            self.fail(logical_id, what, "yes", otherwise)
        return condition


@dataclass
class CheckContext:
    """The config, every deployed stack of the stage (by construct id) and emulator clients."""

    cfg: TradaiConfig
    views: dict[str, StackView]
    client: Callable[[str], Any]
    aws_env: dict[str, str]
