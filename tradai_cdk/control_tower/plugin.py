"""AWS Control Tower proactive controls at synth: cfn-guard's bundled rules as a policy-validation plugin.

Each template is checked against only the rule files that can apply to it (a rule file whose resource types are all
absent from a template cannot find anything there, yet cfn-guard would still evaluate it), each rule file against
only the resources of the types it names (slicing.py), in several cfn-guard processes, one per core at a time.
Each template's result is kept under ``.cache/cfn-guard``, keyed by the template's bytes, the bundled binary and
rules, and the output reading and slicing, so an unchanged template is not checked again
(``VALIDATION_RESULT_CACHE=0`` turns that off; ``make bench`` measures both).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import subprocess
import tempfile
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import jsii

from ..result_cache import CACHE_ROOT, ResultCache, cache_key
from . import bundle, report, slicing

PLUGIN_NAME = "cdk-validator-cfnguard"  # acknowledgement ids are "cdk-validator-cfnguard::<guard rule name>"
DOCUMENTATION_URL = "https://github.com/cdklabs/cdk-validator-cfnguard#bundled-control-tower-rules"
CACHE_DIR = CACHE_ROOT / "cfn-guard"  # the unpacked bundle and the results
RESULTS_DIR = CACHE_DIR / "results"
VIOLATIONS_FOUND = (5, 19)  # cfn-guard's exit codes for a non-compliant template (the plugin's lib/utils.js)

Result = tuple[bool, list[dict[str, Any]]]  # (compliant, violations), see report.violations


@dataclass(frozen=True)
class TemplateCheck:
    """One template (read once: its path and parsed body), the rule files that can apply to it and its result's
    cache key."""

    path: str
    template: dict[str, Any]
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
        self._results = ResultCache(results_dir)
        self._workers = workers or len(os.sched_getaffinity(0))
        self._started: tuple[list[str], Future[dict[str, Result]]] | None = None

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

    def start(self, paths: list[str]) -> None:
        """Begin checking ``paths`` in the background, so that cfn-guard's processes run while the validations CDK
        calls before this one run in node; ``validate`` then collects the result (or checks anew, for other paths)."""
        background = ThreadPoolExecutor(max_workers=1)
        self._started = (list(paths), background.submit(self.check, list(paths)))
        background.shutdown(wait=False)

    def validate(self, context: cdk.IPolicyValidationContextBeta1) -> cdk.PolicyValidationPluginReportBeta1:
        paths = list(context.template_paths)
        started, self._started = self._started, None
        results = started[1].result() if started and started[0] == paths else self.check(paths)
        violations = [_policy_violation(v, path) for path in paths for v in results[path][1]]
        return cdk.PolicyValidationPluginReportBeta1(
            success=all(compliant for compliant, _ in results.values()), violations=violations
        )

    def check(self, paths: list[str]) -> dict[str, Result]:
        """Each template's result: reused when cached, else from cfn-guard."""
        checks = [_template_check(path) for path in paths]
        stored = {c.path: found for c in checks if (found := self._results.load(c.key)) is not None}
        results = {path: (found["compliant"], found["violations"]) for path, found in stored.items()}
        pending = [c for c in checks if c.path not in results]
        for check, result in zip(pending, self._run_all(pending), strict=True):
            results[check.path] = result
            self._results.store(check.key, {"compliant": result[0], "violations": result[1]})
        return results

    def _run_all(self, checks: list[TemplateCheck]) -> list[Result]:
        """Every slice of every template, the costliest first, one cfn-guard per core at a time."""
        if not checks:
            return []
        binary, rule_files = bundle.unpack(CACHE_DIR)
        with tempfile.TemporaryDirectory(prefix="cfn-guard-") as scratch:
            jobs = [job for index, check in enumerate(checks) for job in _jobs(check, index, Path(scratch))]
            jobs.sort(key=lambda job: -job.cost)
            with ThreadPoolExecutor(max_workers=self._workers) as pool:
                outputs = list(pool.map(lambda job: _run(binary, rule_files, job), jobs))
        results: list[Result] = [(True, []) for _ in checks]
        for job, (compliant, found) in sorted(zip(jobs, outputs, strict=True), key=lambda pair: pair[0].order):
            results[job.order[0]] = (results[job.order[0]][0] and compliant, results[job.order[0]][1] + found)
        return results


@dataclass(frozen=True)
class Job:
    """One cfn-guard run: a slice of a template (written to ``data``) and the rule files for it."""

    template: str
    data: Path
    rules: tuple[str, ...]
    cost: float
    order: tuple[int, int]  # (template, slice): the report lists violations in this order


def _template_check(path: str) -> TemplateCheck:
    content = Path(path).read_bytes()
    template = json.loads(content)
    rules = tuple(applicable_rules({resource["Type"] for resource in template.get("Resources", {}).values()}))
    parts = (bundle.fingerprint(), _code_fingerprint(), "\n".join(rules))
    key = cache_key(*(p.encode() for p in parts), content)
    return TemplateCheck(path=path, template=template, rules=rules, key=key)


@cache
def _code_fingerprint() -> str:
    """This package's source: a change to how templates are sliced, checked or read must not reuse old results."""
    sources = sorted(Path(__file__).parent.glob("*.py"))
    return hashlib.sha256(b"".join(source.read_bytes() for source in sources)).hexdigest()


def _jobs(check: TemplateCheck, index: int, scratch: Path) -> list[Job]:
    """The template's slices, each written to ``scratch``."""
    template = check.template
    type_bytes: dict[str, int] = defaultdict(int)
    for resource in template.get("Resources", {}).values():
        type_bytes[resource["Type"]] += len(json.dumps(resource))
    jobs = []
    for number, part in enumerate(slicing.slices({r: bundle.rule_types()[r] for r in check.rules}, type_bytes)):
        data = scratch / f"{index}-{number}.template.json"
        data.write_text(json.dumps(slicing.sliced_template(template, part.types)))
        jobs.append(Job(check.path, data, part.rules, part.cost(type_bytes), (index, number)))
    return jobs


def _run(binary: Path, rule_files: dict[str, Path], job: Job) -> Result:
    """cfn-guard over one slice with its rules, as the plugin calls it."""
    rules = [arg for rule in job.rules for arg in ("--rules", str(rule_files[rule]))]
    command = [str(binary), "validate", *rules, "--data", str(job.data)]
    command += ["--output-format", "json", "--show-summary", "none", "--structured"]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode not in (0, *VIOLATIONS_FOUND):
        raise RuntimeError(f"cfn-guard exited {done.returncode} on {job.template}: {done.stderr.strip()[-2000:]}")
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
