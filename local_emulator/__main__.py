"""CLI: ``python -m local_emulator [deploy [--keep] | destroy]`` (default ``deploy``)."""

from __future__ import annotations

import argparse
import sys

from .deploy import deploy, destroy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_emulator", description=__doc__)
    commands = parser.add_subparsers(dest="command")
    run = commands.add_parser("deploy", help="deploy TradaiDev into a fresh moto emulator and check it")
    run.add_argument("--keep", action="store_true", help="leave the emulator running after the report")
    commands.add_parser("destroy", help="stop an emulator left running by deploy --keep")
    args = parser.parse_args(argv)
    if args.command == "destroy":
        return destroy()
    try:
        return deploy(keep=getattr(args, "keep", False))
    except KeyboardInterrupt:
        print("\nInterrupted: the cdk process group and the emulator were stopped.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
