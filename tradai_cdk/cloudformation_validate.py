"""CDK's built-in CloudFormation validation, with each template's result reused while it is unchanged.

The built-in plugin (``cdk.CloudFormationValidatePlugin``: resource schemas and CDK's deploy-time rules, compiled to
WebAssembly) costs ~4 s to start and ~0.1-1.4 s per template on these machines, on every synth. The app turns the
automatic registration off and registers this wrapper instead: the same plugin under the same name (so its
acknowledgement ids, ``CloudFormation-Validate::<rule>``, and CDK's handling of its findings are unchanged), created
only when some template has no stored result. ``CDK_VALIDATION=false`` still turns it off.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any, cast

import aws_cdk as cdk
import jsii

from .result_cache import CACHE_ROOT, ResultCache, cache_key

RESULTS_DIR = CACHE_ROOT / "cloudformation-validate"
FAILING = ("error", "fatal")  # the severities that fail the plugin's report


def enabled() -> bool:
    """CDK's own switch for its built-in validation (``cdk synth --no-validation`` sets it too)."""
    return os.environ.get("CDK_VALIDATION") != "false"


@jsii.implements(cdk.IPolicyValidationContext)
class _OneStack:
    """The validation context of one stack (the plugin is called per template, so results split by template)."""

    def __init__(self, stack: cdk.PolicyValidationStack) -> None:
        self._stack = stack

    @property
    def stack_templates(self) -> list[cdk.PolicyValidationStack]:
        return [self._stack]

    @property
    def template_paths(self) -> list[str]:
        return [self._stack.template_path]


@jsii.implements(cdk.IPolicyValidationPlugin)
class CachedCloudFormationValidate:
    """``cdk.CloudFormationValidatePlugin`` per template, its violations stored under ``results_dir`` (None: not)."""

    def __init__(
        self, results_dir: Path | None = RESULTS_DIR, before: Callable[[list[str]], None] | None = None
    ) -> None:
        """``before``: called with the template paths first (the app starts cfn-guard there, to run alongside)."""
        self._results = ResultCache(results_dir)
        self._before = before

    @property
    def name(self) -> str:
        return cdk.CloudFormationValidatePlugin.PLUGIN_NAME

    @property
    def version(self) -> str | None:
        return None  # the plugin's engine version is only known once it is started, which a cached synth avoids

    @property
    def rule_ids(self) -> list[str] | None:
        return None

    def validate(self, context: cdk.IPolicyValidationContext) -> cdk.PolicyValidationPluginReport:
        if self._before:
            self._before(list(context.template_paths))
        violations: list[dict[str, Any]] = []
        for stack in context.stack_templates:
            violations.extend(self._stack_violations(stack))
        merged = _merge(violations)
        return cdk.PolicyValidationPluginReport(
            success=all(v["severity"] not in FAILING for v in merged), violations=[_violation(v) for v in merged]
        )

    def _stack_violations(self, stack: cdk.PolicyValidationStack) -> list[dict[str, Any]]:
        template = Path(stack.template_path).read_bytes()
        inputs = (importlib.metadata.version("aws-cdk-lib"), stack.stack_construct_path, stack.account_id, stack.region)
        key = cache_key(*(str(part).encode() for part in inputs), Path(__file__).read_bytes(), template)
        found = self._results.load(key)
        if found is None:
            one_stack = cast(cdk.IPolicyValidationContext, _OneStack(stack))  # jsii.implements is invisible to mypy
            found = [_as_dict(v) for v in _engine().validate(one_stack).violations]
            self._results.store(key, found)
        return [
            {**v, "resources": [{**r, "template_path": stack.template_path} for r in v["resources"]]} for v in found
        ]


@cache
def _engine() -> cdk.CloudFormationValidatePlugin:
    """The plugin, started once per process and only when needed (it keeps no state between calls but its rules)."""
    return cdk.CloudFormationValidatePlugin()


def _as_dict(violation: cdk.PolicyViolation) -> dict[str, Any]:
    return {
        "rule_name": violation.rule_name,
        "description": violation.description,
        "fix": violation.fix,
        "severity": violation.severity,
        "rule_metadata": dict(violation.rule_metadata or {}),
        "resources": [
            {"logical_id": r.resource_logical_id, "construct_path": r.construct_path, "locations": list(r.locations)}
            for r in violation.violating_resources
        ],
    }


def _merge(violations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One violation per rule, severity and description across templates, as the plugin reports a multi-stack call."""
    merged: dict[tuple[str, str | None, str], dict[str, Any]] = {}
    for v in violations:
        key = (v["rule_name"], v["severity"], v["description"])
        if key in merged:
            merged[key]["resources"] = merged[key]["resources"] + v["resources"]
        else:
            merged[key] = v
    return list(merged.values())


def _violation(v: dict[str, Any]) -> cdk.PolicyViolation:
    return cdk.PolicyViolation(
        rule_name=v["rule_name"],
        description=v["description"],
        fix=v["fix"],
        severity=v["severity"],
        rule_metadata=v["rule_metadata"] or None,
        violating_resources=[
            cdk.PolicyViolatingResource(
                locations=r["locations"],
                resource_logical_id=r["logical_id"],
                construct_path=r["construct_path"],
                template_path=r["template_path"],
            )
            for r in v["resources"]
        ],
    )
