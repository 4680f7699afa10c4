"""``python -m tradai_cdk.review synth|guard|comment``: what ``make guard`` and the pull-request workflow run.

    synth REVISION OUTDIR        synthesize a git revision (or WORKTREE) into OUTDIR
    guard [sides] [--overrides]  fail (exit 1) when a stateful resource would be replaced or deleted
    comment [sides] [--section FILE]... [--output FILE]   the pull request's review comment (markdown)

Sides: ``--base REV`` (default main) and ``--head REV`` (default WORKTREE, the working tree), each synthesized,
or ``--base-dir DIR`` / ``--head-dir DIR``, assemblies synthesized before. Exit 2 on bad input.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from .assemblies import WORKING_TREE, synth_revision
from .changes import Stack, StackKey, compare, load_assembly
from .comment import cap, render
from .guard import OVERRIDES, judge, overrides_at, parse_overrides, report


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "synth":
            synth_revision(args.revision, args.outdir)
            return 0
        base, head = _sides(args)
        overrides = (
            parse_overrides(args.overrides.read_text())
            if args.overrides
            else overrides_at(WORKING_TREE if args.head_dir else args.head)
        )
    except (ValueError, OSError, subprocess.CalledProcessError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    changes = compare(base, head)
    verdict = judge(changes, overrides)
    if args.command == "guard":
        print(report(verdict))
        return 1 if verdict.blocked else 0
    stages = list(dict.fromkeys(stage for stage, _ in [*base, *head]))
    title = args.title or f"Infrastructure review: `{args.base_dir or args.base}` → `{args.head_dir or args.head}`"
    body = render(changes, verdict, stages, title, [path.read_text() for path in args.section])
    print(body)
    if args.output:
        args.output.write_text(cap(body))
    return 0


def _sides(args: argparse.Namespace) -> tuple[dict[StackKey, Stack], dict[StackKey, Stack]]:
    """Base and head stacks, from the given assembly directories or synthesized from the revisions."""
    with tempfile.TemporaryDirectory(prefix="tradai-review-") as tmp:
        base_dir = args.base_dir or synth_revision(args.base, Path(tmp) / "base")
        head_dir = args.head_dir or synth_revision(args.head, Path(tmp) / "head")
        return load_assembly(base_dir), load_assembly(head_dir)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tradai_cdk.review", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = parser.add_subparsers(dest="command", required=True)
    synth = commands.add_parser("synth", help="synthesize a git revision (or WORKTREE) into a directory")
    synth.add_argument("revision")
    synth.add_argument("outdir", type=Path)
    guard = commands.add_parser("guard", help="fail when a stateful resource would be replaced or deleted")
    comment = commands.add_parser("comment", help="the pull request's review comment (markdown) on stdout")
    for command in (guard, comment):
        command.add_argument("--base", default="main", help="git revision of the base side (default: main)")
        command.add_argument(
            "--head",
            default=WORKING_TREE,
            help=f"git revision of the head side (default: {WORKING_TREE}, the working tree)",
        )
        command.add_argument("--base-dir", type=Path, help="an assembly synthesized before, instead of --base")
        command.add_argument("--head-dir", type=Path, help="an assembly synthesized before, instead of --head")
        command.add_argument(
            "--overrides",
            type=Path,
            help=f"the override file (default: {OVERRIDES} of the head side; the working tree's with --head-dir)",
        )
    comment.add_argument("--title", help="the comment's heading")
    comment.add_argument(
        "--section",
        type=Path,
        action="append",
        default=[],
        help="a markdown file appended as a section (repeatable), e.g. the cost change",
    )
    comment.add_argument("--output", type=Path, help="also write the comment, cut to GitHub's size limit, here")
    return parser


if __name__ == "__main__":
    sys.exit(main())
