"""Makes a stack re-read its producers' outputs in the same deploy that changes them.

Weak cross-stack references (``Fn::GetStackOutput``) are resolved only when the consuming stack is created or
updated: an unchanged consumer keeps a stale value after its producer's output changes (a replaced security group,
say), and ``cdk deploy`` skips a consumer whose template did not change. This construct gives every consumer a
change of its own whenever a producer's published values may change: a fingerprint of each producer's outputs and
of the resources they reference (transitively, so a replaced VPC also changes the subnets' entry), kept in the
metadata of a ``WaitConditionHandle`` (no cost, no side effect). CloudFormation then updates the consumer, and an
update resolves all of its ``Fn::GetStackOutput`` references again, so the new values reach it in the same deploy.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii
from constructs import Construct

from ..template_refs import references

METADATA_KEY = "tradai:producer-fingerprints"


class ReferenceRefresh(Construct):
    """A handle in ``scope``'s stack whose metadata maps each stack it depends on to that stack's fingerprint."""

    def __init__(self, scope: Construct, construct_id: str):
        super().__init__(scope, construct_id)
        handle = cdk.CfnWaitConditionHandle(self, "Handle")
        handle.add_metadata(METADATA_KEY, cdk.Lazy.uncached_any(_Fingerprints(cdk.Stack.of(self))))


@jsii.implements(cdk.IAnyProducer)
class _Fingerprints:
    """Produced while the consumer's template is written; its producers' templates are written before it
    (a stage synthesizes its stacks in construct order, and a stack is created after the stacks it reads)."""

    def __init__(self, consumer: cdk.Stack):
        self._consumer = consumer

    def produce(self, context: cdk.IResolveContext) -> dict[str, str]:
        if context.preparing:  # references are still being found; nothing is written yet
            return {}
        return {producer.stack_name: fingerprint(_template(producer)) for producer in self._consumer.dependencies}


def _template(stack: cdk.Stack) -> dict[str, Any]:
    stage = cdk.Stage.of(stack)
    if stage is None:
        raise RuntimeError(f"{stack.stack_name} is not in a stage (the app's stacks all are)")
    path = Path(stage.outdir) / stack.template_file
    if not path.is_file():
        raise RuntimeError(
            f"{stack.stack_name} must be synthesized before the stacks that read its outputs; "
            f"create it first in its stage"
        )
    return json.loads(path.read_text())


def fingerprint(template: dict[str, Any]) -> str:
    """A short hash of a template's outputs and every resource they reference, transitively (metadata excluded)."""
    resources = template.get("Resources", {})
    outputs = template.get("Outputs", {})
    pending, seen = [name for name in references(outputs) if name in resources], set[str]()
    while pending:
        logical_id = pending.pop()
        if logical_id not in seen:
            seen.add(logical_id)
            pending.extend(name for name in references(resources[logical_id]) if name in resources)
    published = {
        "Outputs": outputs,
        "Resources": {
            logical_id: {key: value for key, value in resources[logical_id].items() if key != "Metadata"}
            for logical_id in sorted(seen)
        },
    }
    return hashlib.sha256(json.dumps(published, sort_keys=True).encode()).hexdigest()[:16]
