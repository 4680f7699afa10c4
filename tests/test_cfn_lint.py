"""cfn-lint over every synthesized template, one test each: zero errors, zero unexplained warnings.

A template that passed is remembered in .cache/cfn-lint/ under the hash of all the result depends on: the template's
bytes, cfn-lint's version and its effective configuration (these ignores, the regions from the environment, any
.cfnlintrc). An unchanged template is not linted again; a failure is never remembered, so it is checked on every run.
"""

import hashlib
from pathlib import Path

import pytest
from cfnlint.api import ManualArgs, lint_file
from cfnlint.config import ConfigMixIn
from cfnlint.version import __version__ as cfn_lint_version

from conftest import ROOT, STACKS
from tradai_cdk.config import ENVIRONMENTS

# Kept warnings, each explained in docs/decisions.md.
IGNORED = (
    "W3010",  # spec 1.2 pins subnets to named AZs
    "W3005",  # CDK adds a redundant DependsOn on a Lambda's role next to its GetAtt
)
CONFIG = ManualArgs(ignore_checks=list(IGNORED))
PASSED = ROOT / ".cache" / "cfn-lint"


@pytest.mark.parametrize("stack", STACKS)
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_template_passes_cfn_lint(synthesized, env, stack):
    template = synthesized[(env, stack)].template_path
    passed = PASSED / _result_key(template)
    if passed.is_file():
        return
    matches = lint_file(template, config=CONFIG)
    assert not matches, "\n".join(map(str, matches))
    PASSED.mkdir(parents=True, exist_ok=True)
    passed.touch()


def test_no_template_is_empty(synthesized):
    """Every tier has landed, so an empty template (which also fails cfn-lint above) is a bug, not an unbuilt tier."""
    empty = sorted(key for key, synth in synthesized.items() if not synth.json.get("Resources"))
    assert not empty


def _result_key(template: Path) -> str:
    """The hash of the template and of what cfn-lint makes of it: its version and effective configuration."""
    digest = hashlib.sha256(f"{cfn_lint_version}\0{ConfigMixIn([], **CONFIG)!r}\0".encode())
    digest.update(template.read_bytes())
    return digest.hexdigest()
