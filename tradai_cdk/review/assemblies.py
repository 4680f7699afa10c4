"""Synthesize the app as of a git revision, or as in the working tree, into a cloud assembly directory.

Both sides of a review are synthesized with the same image tag, so a comparison shows what the change does to
the infrastructure, not that a new commit has a new tag. Synth is offline (no AWS credentials).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CDK = ROOT / "node_modules" / ".bin" / "cdk"
REVIEW_IMAGE_TAG = "review"
WORKING_TREE = "WORKTREE"


def synth(source: Path, outdir: Path) -> Path:
    """Run ``cdk synth`` of every stage of the app checked out at ``source`` into ``outdir``."""
    env = {
        **os.environ,
        "PYTHONPATH": str(source),
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
        "JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION": "1",
        "JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION": "1",
    }
    subprocess.run(
        [
            str(CDK),
            "synth",
            "--quiet",
            "--app",
            f"{sys.executable} app.py",
            "--output",
            str(outdir),
            "-c",
            f"image_tag={REVIEW_IMAGE_TAG}",
            "**",
        ],
        cwd=source,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return outdir


def synth_revision(revision: str, outdir: Path) -> Path:
    """The app as of git ``revision`` (or the working tree for ``WORKTREE``), synthesized into ``outdir``.

    A revision is checked out into a temporary git worktree and synthesized with this checkout's .venv and
    CDK CLI, so both sides of a comparison use the same toolchain.
    """
    outdir = Path(outdir).resolve()
    if revision == WORKING_TREE:
        return synth(ROOT, outdir)
    with tempfile.TemporaryDirectory(prefix="tradai-review-") as tmp:
        checkout = Path(tmp) / "src"
        subprocess.run(["git", "worktree", "add", "--detach", "--quiet", str(checkout), revision], cwd=ROOT, check=True)
        try:
            return synth(checkout, outdir)
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(checkout)], cwd=ROOT, check=False)
