"""AWS Control Tower proactive controls at synth: cfn-guard's bundled rules as a policy-validation plugin.

Only the rule files that can apply run: a rule file whose resource types are all absent from the templates cannot
find anything, yet cfn-guard evaluates it against every template (about half of its time). Each run disables those
files, from the types the rules name and the types the templates declare.
"""

from __future__ import annotations

import json
import re
import tarfile
from collections.abc import Iterable
from functools import cache
from pathlib import Path, PurePosixPath

import aws_cdk as cdk
import cdklabs.cdk_validator_cfnguard as cfnguard_package
import jsii
from cdklabs.cdk_validator_cfnguard import CfnGuardValidator

RULES_DIR = "package/rules/control-tower/cfn-guard/"  # inside the plugin's jsii tarball
RESOURCE_TYPE = re.compile(r"AWS::[A-Za-z0-9]+::[A-Za-z0-9]+")
MAX_BUFFER = 64 * 1024 * 1024  # guard's JSON for one stage is ~1.7 MB today; the plugin's default is 1 MB


@cache
def rule_types() -> dict[str, frozenset[str]]:
    """Each bundled rule file (its name without ``.guard``, as ``disabledRules`` takes it) -> the types it checks."""
    (tarball,) = (Path(cfnguard_package.__file__).parent / "_jsii").glob("*.jsii.tgz")
    with tarfile.open(tarball) as archive:
        return {
            PurePosixPath(member.name).stem: frozenset(RESOURCE_TYPE.findall(_read(archive, member)))
            for member in archive.getmembers()
            if member.name.startswith(RULES_DIR) and member.name.endswith(".guard")
        }


def _read(archive: tarfile.TarFile, member: tarfile.TarInfo) -> str:
    file = archive.extractfile(member)
    assert file is not None, member.name  # a regular file of the tarball
    return file.read().decode()


def template_types(paths: Iterable[str]) -> set[str]:
    """Every resource type the templates declare."""
    return {
        resource["Type"]
        for path in paths
        for resource in json.loads(Path(path).read_text()).get("Resources", {}).values()
    }


def inapplicable_rules(types: set[str]) -> list[str]:
    """Rule files that name resource types, none of them in ``types``."""
    return sorted(rule for rule, checked in rule_types().items() if checked and not checked & types)


@jsii.implements(cdk.IPolicyValidationPluginBeta1)
class ControlTowerGuard:
    """cfn-guard's Control Tower rules, reporting every violation with severity "error".

    CfnGuardValidator leaves ``severity`` unset. Once one of its findings is acknowledged, CDK recomputes the
    report's success from the remaining violations' severities, so unset ones would no longer fail synth.
    The name (and so the acknowledgement prefix ``cdk-validator-cfnguard::``) is the plugin's own.
    A violation whose resource has no logical id (CT.KMS.PR.3 adds one) cannot cross jsii into Python: the
    plugin then fails, and synth with it, so such a rule must pass or be disabled, never acknowledged.
    """

    def __init__(self) -> None:
        self._guard = CfnGuardValidator(control_tower_rules_enabled=True, max_buffer=MAX_BUFFER)

    @property
    def name(self) -> str:
        return self._guard.name

    @property
    def version(self) -> str | None:
        return self._guard.version

    @property
    def rule_ids(self) -> list[str] | None:
        return self._guard.rule_ids

    def validate(self, context: cdk.IPolicyValidationContextBeta1) -> cdk.PolicyValidationPluginReportBeta1:
        skipped = inapplicable_rules(template_types(context.template_paths))
        guard = CfnGuardValidator(control_tower_rules_enabled=True, max_buffer=MAX_BUFFER, disabled_rules=skipped)
        report = guard.validate(context)
        return cdk.PolicyValidationPluginReportBeta1(
            success=report.success,
            metadata=report.metadata,
            plugin_version=report.plugin_version,
            violations=[
                cdk.PolicyViolationBeta1(
                    rule_name=v.rule_name,
                    description=v.description,
                    violating_resources=v.violating_resources,
                    fix=v.fix,
                    rule_metadata=v.rule_metadata,
                    severity=v.severity or "error",
                )
                for v in report.violations
            ],
        )
