"""What a smoke checker sees (a deployed stack, the config, clients) and what it records."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

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
        return [r for r in self.declared(resource_type) if r.logical_id in self.deployed]

    def declared(self, resource_type: str) -> list[Resource]:
        """Every template resource of the type, created or not (physical id "" if not)."""
        return [
            Resource(lid, body["Type"], self.deployed.get(lid, ""), body.get("Properties", {}))
            for lid, body in self.artifact.resources.items()
            if body["Type"] == resource_type
        ]

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
    logical_id: str | None
    text: str


@dataclass
class Findings:
    items: list[Finding] = field(default_factory=list)

    def ok(self, logical_id: str | None, what: str) -> None:
        self.items.append(Finding("ok", logical_id, what))

    def fail(self, logical_id: str | None, what: str, expected: Any, actual: Any) -> None:
        self.items.append(Finding("fail", logical_id, f"{what}: expected {expected}, got {actual}"))

    def not_kept(self, logical_id: str | None, what: str) -> None:
        self.items.append(Finding("not_kept", logical_id, what))

    def missing(self, what: str) -> None:
        self.items.append(Finding("missing", None, what))

    def expect(self, logical_id: str | None, what: str, expected: Any, actual: Any) -> bool:
        if expected == actual:
            self.ok(logical_id, f"{what} {expected}")
            return True
        self.fail(logical_id, what, expected, actual)
        return False

    def dropped(self, logical_id: str | None, what: str, expected: Any, declared: Any) -> None:
        """A property the emulator does not apply: only the template can be compared, never verified."""
        if declared == expected:
            self.not_kept(logical_id, f"{what} (template {declared!r}, not applied by moto)")
        else:
            self.fail(logical_id, f"{what} in the template", expected, declared)

    def applied(
        self, logical_id: str | None, what: str, expected: Any, actual: Any, declared: Any, unset: Any = None
    ) -> None:
        """A property moto may drop: compared as deployed when the emulator shows a value other than
        ``unset`` (its answer when nothing was applied), else only in the template (``dropped``)."""
        if actual == unset:
            self.dropped(logical_id, what, expected, declared)
        else:
            self.expect(logical_id, what, expected, actual)

    def matches(self, logical_id: str | None, what: str, expected: dict, actual: dict) -> bool:
        """Every entry of ``expected`` is in ``actual`` (which may hold more); a failure shows only the differences."""
        wrong = {key: value for key, value in expected.items() if actual.get(key) != value}
        if wrong:
            self.fail(logical_id, what, wrong, {key: actual.get(key) for key in wrong})
        else:
            self.ok(logical_id, f"{what} {', '.join(f'{key}={value}' for key, value in expected.items())}")
        return not wrong

    def holds(self, logical_id: str | None, what: str, condition: bool, otherwise: Any = "no") -> bool:
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


def named(
    view: StackView, findings: Findings, resource_type: str, name_property: str, names: Iterable[Any]
) -> dict[Any, Resource]:
    """The created resources whose template ``name_property`` is one of ``names``, by name.

    A name no template resource declares is MISSING; a declared one the emulator did not
    create is left to that resource's own row (IGNORED or MISSING), so it never counts twice.
    """
    declared = {
        r.properties.get(name_property): r
        for r in view.declared(resource_type)
        if not isinstance(r.properties.get(name_property), (dict, list))  # tokens: matched by their own row
    }
    names = list(names)
    for name in names:
        if name not in declared:
            findings.missing(f"{resource_type} with {name_property} {name}")
    return {name: declared[name] for name in names if name in declared and declared[name].logical_id in view.deployed}


def optional(call: Callable[..., dict], missing: str, **kwargs: Any) -> dict | None:
    """``call(**kwargs)``, or None where the emulator answers error code ``missing`` (nothing configured)."""
    try:
        return call(**kwargs)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == missing:
            return None
        raise


def check_launch_template(
    view: StackView,
    ctx: CheckContext,
    findings: Findings,
    spec: dict,
    *,
    owner: str,
    instance_type: str,
    ami_parameter: str,
) -> tuple[str, dict] | None:
    """Check an ASG's launch template (instance type, IMDSv2, AMI from its SSM parameter).

    Returns the template's logical id and launch data for owner-specific checks, or None if it is missing.
    """
    template = view.by_physical_id("AWS::EC2::LaunchTemplate").get(spec["LaunchTemplateId"])
    if template is None:
        findings.missing(f"launch template {spec['LaunchTemplateId']} of the {owner} group")
        return None
    data = ctx.client("ec2").describe_launch_template_versions(
        LaunchTemplateId=spec["LaunchTemplateId"], Versions=[spec["Version"]]
    )["LaunchTemplateVersions"][0]
    data = data["LaunchTemplateData"]
    lid = template.logical_id
    findings.expect(lid, "instance type", instance_type, data.get("InstanceType"))
    findings.expect(lid, "IMDSv2 (HttpTokens)", "required", data.get("MetadataOptions", {}).get("HttpTokens"))
    ami = ctx.client("ssm").get_parameter(Name=ami_parameter)["Parameter"]["Value"]
    findings.expect(lid, f"AMI from {ami_parameter}", ami, data.get("ImageId"))
    return lid, data
