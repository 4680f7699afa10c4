"""AWS Control Tower proactive controls at synth: cfn-guard's bundled rules as a policy-validation plugin.

Each template is checked by a cfn-guard process of its own, one per core at a time, against only the rule files
that can apply to it: a rule file whose resource types are all absent from a template cannot find anything there,
yet cfn-guard would still evaluate it. Each template's result is kept under ``.cache/cfn-guard``, keyed by the
template's bytes, the bundled binary and rules, and the output parser, so an unchanged template is not checked
again (``CFN_GUARD_RESULT_CACHE=0`` turns that off; ``make bench`` measures both).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import subprocess
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii

from . import bundle, report

PLUGIN_NAME = "cdk-validator-cfnguard"  # acknowledgement ids are "cdk-validator-cfnguard::<guard rule name>"
DOCUMENTATION_URL = "https://github.com/cdklabs/cdk-validator-cfnguard#bundled-control-tower-rules"
CACHE_DIR = Path(__file__).resolve().parents[2] / ".cache" / "cfn-guard"  # the unpacked bundle and the results
RESULTS_DIR = CACHE_DIR / "results"
RESULT_CACHE_SWITCH = "CFN_GUARD_RESULT_CACHE"
VIOLATIONS_FOUND = (5, 19)  # cfn-guard's exit codes for a non-compliant template (the plugin's lib/utils.js)

Result = tuple[bool, list[dict[str, Any]]]  # (compliant, violations), see report.violations


@dataclass(frozen=True)
class TemplateCheck:
    """One template, the rule files that can apply to it and its result's cache key."""

    path: str
    rules: tuple[str, ...]
    key: str


def template_types(paths: Iterable[str]) -> set[str]:
    """Every resource type the templates declare."""
    return {
        resource["Type"]
        for path in paths
        for resource in json.loads(Path(path).read_text()).get("Resources", {}).values()
    }


def applicable_rules(types: set[str]) -> list[str]:
    """Rule files that name at least one of ``types`` (every bundled rule file names the types it checks)."""
    return sorted(rule for rule, checked in bundle.rule_types().items() if checked & types)


def result_cache_enabled() -> bool:
    return os.environ.get(RESULT_CACHE_SWITCH, "1") not in ("0", "false", "off")


@jsii.implements(cdk.IPolicyValidationPluginBeta1)
class ControlTowerGuard:
    """cfn-guard's Control Tower rules (cfn-guard and rules from the pinned cdk-validator-cfnguard), every violation
    with severity "error".

    The plugin left ``severity`` unset; once one of its findings is acknowledged, CDK recomputes the report's success
    from the remaining violations' severities, so unset ones would no longer fail synth. A violation that names no
    resource cannot be acknowledged: it fails synth with a message saying so (the rule must pass or be disabled).
    """

    def __init__(self, results_dir: Path | None = RESULTS_DIR, workers: int | None = None) -> None:
        """``results_dir``: where each template's result is kept and reused (None: neither)."""
        self._results_dir = results_dir
        self._workers = workers or len(os.sched_getaffinity(0))

    @property
    def name(self) -> str:
        return PLUGIN_NAME

    @property
    def version(self) -> str:
        return importlib.metadata.version("cdklabs.cdk-validator-cfnguard")

    @property
    def rule_ids(self) -> list[str]:
        """The plugin's ids: rule file names without ``ct-`` and hyphens."""
        return [rule.replace("ct-", "", 1).replace("-", "") for rule in sorted(bundle.rule_types())]

    def validate(self, context: cdk.IPolicyValidationContextBeta1) -> cdk.PolicyValidationPluginReportBeta1:
        paths = list(context.template_paths)
        results = self.check(paths)
        violations = [_policy_violation(v, path) for path in paths for v in results[path][1]]
        return cdk.PolicyValidationPluginReportBeta1(
            success=all(compliant for compliant, _ in results.values()), violations=violations
        )

    def check(self, paths: list[str]) -> dict[str, Result]:
        """Each template's result: reused when cached, else from cfn-guard (several templates at a time)."""
        checks = [_template_check(path) for path in paths]
        results = {c.path: cached for c in checks if (cached := self._cached(c)) is not None}
        pending = sorted((c for c in checks if c.path not in results), key=lambda c: -Path(c.path).stat().st_size)
        if pending:
            binary, rule_files = bundle.unpack(CACHE_DIR)
            with ThreadPoolExecutor(max_workers=self._workers) as pool:
                for check, result in zip(pending, pool.map(lambda c: _run(binary, rule_files, c), pending)):
                    results[check.path] = result
                    self._store(check, result)
        return results

    def _cached(self, check: TemplateCheck) -> Result | None:
        if self._results_dir is None or not (path := self._results_dir / f"{check.key}.json").exists():
            return None
        stored = json.loads(path.read_text())
        return stored["compliant"], stored["violations"]

    def _store(self, check: TemplateCheck, result: Result) -> None:
        if self._results_dir is None:
            return
        path = self._results_dir / f"{check.key}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_suffix(f".{os.getpid()}.tmp")
        staging.write_text(json.dumps({"compliant": result[0], "violations": result[1]}))
        staging.replace(path)  # atomic: a concurrent synth reads the whole result or none


def _template_check(path: str) -> TemplateCheck:
    content = Path(path).read_bytes()
    rules = tuple(applicable_rules(template_types([path])))
    key = hashlib.sha256()
    for part in (bundle.fingerprint().encode(), _parser_fingerprint().encode(), "\n".join(rules).encode(), content):
        key.update(hashlib.sha256(part).digest())
    return TemplateCheck(path=path, rules=rules, key=key.hexdigest())


@cache
def _parser_fingerprint() -> str:
    """The parser's source: a change to it must not reuse results it parsed differently."""
    return hashlib.sha256(Path(report.__file__).read_bytes()).hexdigest()


def _run(binary: Path, rule_files: dict[str, Path], check: TemplateCheck) -> Result:
    """cfn-guard over one template with its rules, as the plugin calls it."""
    if not check.rules:
        return True, []
    rules = [arg for rule in check.rules for arg in ("--rules", str(rule_files[rule]))]
    command = [str(binary), "validate", *rules, "--data", check.path]
    command += ["--output-format", "json", "--show-summary", "none", "--structured"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode not in (0, *VIOLATIONS_FOUND):
        raise RuntimeError(f"cfn-guard exited {done.returncode} on {check.path}: {done.stderr.strip()[-2000:]}")
    return report.violations(done.stdout)


def _policy_violation(violation: dict[str, Any], template_path: str) -> cdk.PolicyViolationBeta1:
    return cdk.PolicyViolationBeta1(
        rule_name=violation["ruleName"],
        description=violation["description"],
        fix=violation["fix"],
        rule_metadata={"DocumentationUrl": DOCUMENTATION_URL},
        severity="error",
        violating_resources=[
            cdk.PolicyViolatingResourceBeta1(
                locations=locations, resource_logical_id=logical_id, template_path=template_path
            )
            for logical_id, locations in violation["resources"].items()
        ],
    )
