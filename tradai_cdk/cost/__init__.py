"""Monthly cost estimate per environment from the synthesized templates (issue 18): ``make cost``.

Fixed costs come from what deploys (the templates), usage-based costs from each environment's
``CostAssumptions`` (tradai_cdk/config/canonical.py), prices from ``prices.json`` (eu-central-1).
"""

from __future__ import annotations

from pathlib import Path

from tradai_cdk.config.canonical import COST_ASSUMPTIONS

from .assembly import load_assembly
from .estimate import EnvEstimate, estimate_env
from .prices import PriceTable


def estimate_assembly(outdir: Path, prices: PriceTable) -> dict[str, EnvEstimate]:
    """Environment -> its estimate, for the cloud assembly synthesized into ``outdir``."""
    return {
        env: estimate_env(env, stacks, prices, COST_ASSUMPTIONS[env]) for env, stacks in load_assembly(outdir).items()
    }
