"""Synth benchmark: wall time and peak memory of synthesizing all three stages.

Run: .venv/bin/python bench/synth_benchmark.py [runs]
Each run is a fresh process (as `cdk synth` starts one), so jsii start-up is included.
Reports are numbers to compare across changes, never assertions.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SYNTH = """
import json, sys
from tradai_cdk.app import build_app
context = {**json.load(open("cdk.json"))["context"], "image_tag": "bench"}
build_app(context=context, outdir=sys.argv[1]).synth()
"""


def one_run() -> float:
    with tempfile.TemporaryDirectory() as outdir:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", SYNTH, outdir], cwd=ROOT, check=True, capture_output=True)
        return time.perf_counter() - started


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 3
    seconds = [one_run() for _ in range(runs)]
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print(json.dumps({"runs": runs, "median_seconds": round(statistics.median(seconds), 2),
                      "min_seconds": round(min(seconds), 2), "max_seconds": round(max(seconds), 2),
                      "peak_child_rss_mib": round(peak_mib, 1)}, indent=2))


if __name__ == "__main__":
    main()
