"""Small readers for synthesized CloudFormation templates."""

from __future__ import annotations


def resources(template: dict, resource_type: str) -> dict[str, dict]:
    """Logical id -> properties of every resource of one type."""
    return {logical_id: resource.get("Properties", {})
            for logical_id, resource in template.get("Resources", {}).items()
            if resource["Type"] == resource_type}


def tags(properties: dict) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in properties.get("Tags", [])}


def by_name_tag(template: dict, resource_type: str) -> dict[str, tuple[str, dict]]:
    """Name tag -> (logical id, properties)."""
    return {tags(props)["Name"]: (logical_id, props)
            for logical_id, props in resources(template, resource_type).items()}


def ref(value) -> str:
    """Logical id behind a {"Ref": ...} or {"Fn::GetAtt": [...]}."""
    if "Ref" in value:
        return value["Ref"]
    return value["Fn::GetAtt"][0]


def statements(template: dict, policy_logical_prefix: str) -> list[dict]:
    """Statements of the IAM policies whose logical id starts with the prefix."""
    found = []
    for logical_id, props in resources(template, "AWS::IAM::Policy").items():
        if logical_id.startswith(policy_logical_prefix):
            found.extend(props["PolicyDocument"]["Statement"])
    return found


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]
