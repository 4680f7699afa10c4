"""AWS Control Tower proactive controls at synth (cfn-guard), as a CDK policy-validation plugin."""

from .bundle import rule_types
from .plugin import RESULTS_DIR, ControlTowerGuard, applicable_rules, template_types

__all__ = [
    "RESULTS_DIR",
    "ControlTowerGuard",
    "applicable_rules",
    "rule_types",
    "template_types",
]
