"""Which rule files cfn-guard evaluates together, and against which part of a template.

cfn-guard's time per rule file grows with the size of the document it reads, not with what the rule matches (a
rule file evaluated against a compute template costs ~0.15 ms per KB of it). So each rule file is given only the
resources of the types it names, and a stub (the type alone) of each resource those reference (rules look a
referenced resource up only to check that it exists and what type it is); the other top-level sections stay
whole. Rule files that name the same present types share a slice; slices are then merged while one process is
cheaper than two, by a cost model measured on these machines (cfn-guard 3.1.1, 2 cores).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

SUBSTITUTION = re.compile(r"\$\{(?!!)([^}]+)\}")  # ${Name} / ${Name.Attribute} in Fn::Sub; ${!x} is literal
PROCESS_SECONDS = 0.08  # one cfn-guard process: start, read the rules and the data, write the report
SECONDS_PER_RULE_BYTE = 0.15e-6  # each rule file over each byte of the resources it is given


@dataclass(frozen=True)
class Slice:
    """Rule files evaluated in one cfn-guard process, against the template's resources of ``types``."""

    rules: tuple[str, ...]
    types: frozenset[str]

    def cost(self, type_bytes: Mapping[str, int]) -> float:
        return PROCESS_SECONDS + SECONDS_PER_RULE_BYTE * len(self.rules) * sum(type_bytes[t] for t in self.types)

    def merge(self, other: Slice) -> Slice:
        return Slice(rules=tuple(sorted(self.rules + other.rules)), types=self.types | other.types)


def slices(rules: Mapping[str, frozenset[str]], type_bytes: Mapping[str, int]) -> list[Slice]:
    """The slices for a template whose resources take ``type_bytes`` (type -> serialized bytes); ``rules``: each
    applicable rule file -> the types it names."""
    by_types: dict[frozenset[str], list[str]] = defaultdict(list)
    for rule, types in sorted(rules.items()):
        by_types[frozenset(types & type_bytes.keys())].append(rule)
    found = [Slice(rules=tuple(names), types=types) for types, names in by_types.items()]
    while len(found) > 1:
        saving, i, j = max(
            (found[i].cost(type_bytes) + found[j].cost(type_bytes) - found[i].merge(found[j]).cost(type_bytes), i, j)
            for i in range(len(found))
            for j in range(i + 1, len(found))
        )
        if saving <= 0:
            break
        found[i] = found[i].merge(found[j])
        del found[j]
    return found


def sliced_template(template: Mapping[str, Any], types: frozenset[str]) -> dict[str, Any]:
    """The template with only the resources of ``types``, plus a stub (its type alone) of each other resource they
    reference: rules look a referenced resource up only to check that it exists and what type it is. Parameters,
    conditions, mappings and outputs stay whole."""
    resources = template.get("Resources", {})
    kept = {name: resource for name, resource in resources.items() if resource.get("Type") in types}
    referenced = {name for resource in kept.values() for name in references(resource)}
    stubs = {name: {"Type": resources[name].get("Type")} for name in referenced & resources.keys() - kept.keys()}
    return {**template, "Resources": {**kept, **stubs}}


def references(value: Any) -> set[str]:
    """Logical ids ``value`` names: Ref, Fn::GetAtt, ${...} in Fn::Sub, DependsOn (ids of anything, resource or not)."""
    if isinstance(value, list):
        return {name for item in value for name in references(item)}
    if not isinstance(value, dict):
        return set()
    found = {name for key, item in value.items() if key != "DependsOn" for name in references(item)}
    depends = value.get("DependsOn", [])
    found.update([depends] if isinstance(depends, str) else depends)
    if isinstance(ref := value.get("Ref"), str):
        found.add(ref)
    if isinstance(target := value.get("Fn::GetAtt"), (list, str)):
        found.add(target[0] if isinstance(target, list) else target.split(".")[0])
    if isinstance(sub := value.get("Fn::Sub"), (list, str)):
        text = sub[0] if isinstance(sub, list) else sub
        found.update(match.split(".")[0] for match in SUBSTITUTION.findall(text) if isinstance(text, str))
    return found
