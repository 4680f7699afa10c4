"""``python -m tradai_cdk.cost``: the monthly cost estimate of the working tree (or of given assemblies), and its
change against a base revision. Exit 0; with ``--strict``, 3 when the price table is stale or something is not
costed."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tradai_cdk.review.assemblies import WORKING_TREE, synth_revision

from . import estimate_assembly
from .prices import load_prices
from .report import render

STRICT_FAILURE = 3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tradai_cdk.cost", description=__doc__)
    parser.add_argument(
        "--assembly", type=Path, help="an already synthesized cloud assembly (else: synth the working tree)"
    )
    parser.add_argument("--base-assembly", type=Path, help="the base's synthesized cloud assembly")
    parser.add_argument("--base", help="a git revision to compare with (synthesized into a temporary directory)")
    parser.add_argument("--format", choices=("text", "markdown"), default="text")
    parser.add_argument("--top", type=int, default=10, help="how many of the largest changes to show")
    parser.add_argument(
        "--strict",
        action="store_true",
        help=f"exit {STRICT_FAILURE} when the price table is stale or a resource is not costed",
    )
    args = parser.parse_args(argv)
    if args.base and args.base_assembly:
        parser.error("--base and --base-assembly are alternatives")
    prices, today = load_prices(), dt.date.today()
    with tempfile.TemporaryDirectory(prefix="tradai-cost-") as tmp:
        after_dir, before_dir = _assemblies(args, Path(tmp))
        after = estimate_assembly(after_dir, prices)
        before = estimate_assembly(before_dir, prices) if before_dir else None
    print(render(after, prices, today, args.format == "markdown", before, args.top), end="")
    stale = prices.staleness(today)
    not_costed = sum(len(e.not_costed) for e in after.values())
    if stale:
        print(f"warning: {stale}", file=sys.stderr)
    if not_costed:
        print(f"warning: {not_costed} resource(s) not costed (listed in the report)", file=sys.stderr)
    return STRICT_FAILURE if args.strict and (stale or not_costed) else 0


def _assemblies(args: argparse.Namespace, tmp: Path) -> tuple[Path, Path | None]:
    """The assembly to estimate and the base's (None without a base); those not given are synthesized, in
    parallel when both are."""
    jobs = {}
    if args.assembly is None:
        jobs["after"] = (WORKING_TREE, tmp / "after")
    if args.base:
        jobs["before"] = (args.base, tmp / "before")
    for revision, _ in jobs.values():
        print(f"synthesizing {revision} ...", file=sys.stderr)
    with ThreadPoolExecutor(max_workers=2) as pool:
        done = {side: pool.submit(synth_revision, *job) for side, job in jobs.items()}
        synthesized = {side: future.result() for side, future in done.items()}
    return synthesized.get("after", args.assembly), synthesized.get("before", args.base_assembly)


if __name__ == "__main__":
    sys.exit(main())
