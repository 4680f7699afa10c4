"""Deploy preflight: are an environment's S3 bucket names free (or already ours)?

S3 bucket names are global across all AWS accounts. If another account holds one of
``tradai-{component}-{env}[-{suffix}]``, ``cdk deploy`` fails half-way through the persistent stack.
This checks every name first, with the caller's credentials (synth itself never calls AWS)::

    python -m tradai_cdk.preflight TradaiProd [-c bucket_suffix=acme-1] [-c image_tag=<sha>]

HeadBucket per name: 404 -> free; 200 -> exists in this account (an earlier deploy); 403 -> held by
another account. Exit 0 when every name is usable, 1 when one is taken (the message names the
buckets and the override), 2 when the check itself could not run (no credentials, network, bad config).
The context is cdk.json's, overridden by ``-c key=value`` like the CDK CLI; `bucket_suffix` may be one
string or, in cdk.json, a mapping from environment to suffix.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from .config import ENVIRONMENTS, ConfigError, TradaiConfig, config_for

ROOT = Path(__file__).resolve().parents[1]
FREE, OURS, TAKEN = "free", "ours", "taken"
NOT_FOUND_CODES = ("404", "NoSuchBucket", "NotFound")
FORBIDDEN_CODES = ("403", "Forbidden", "AccessDenied")
# tradai_cdk.app.stage_id, rebuilt here: importing aws_cdk would start a jsii (node) process for nothing.
ENV_BY_STAGE = {f"Tradai{env.capitalize()}": env for env in ENVIRONMENTS}


class PreflightError(Exception):
    """The check could not be run (exit 2)."""


@dataclass(frozen=True)
class BucketCheck:
    name: str
    status: str  # FREE, OURS or TAKEN
    detail: str


def check_bucket(s3: Any, name: str) -> BucketCheck:
    """HeadBucket ``name``; PreflightError for anything but 200, 403 or 404."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        s3.head_bucket(Bucket=name)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", ""))
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in NOT_FOUND_CODES or status == 404:
            return BucketCheck(name, FREE, "free")
        if code in FORBIDDEN_CODES or status == 403:
            return BucketCheck(name, TAKEN, "exists and this account may not read it: owned by another AWS account")
        raise PreflightError(f"HeadBucket {name}: {error}") from error
    except BotoCoreError as error:  # no credentials, endpoint unreachable, ...
        raise PreflightError(f"HeadBucket {name}: {error}") from error
    return BucketCheck(name, OURS, "exists in this account (an earlier deploy)")


def check_buckets(config: TradaiConfig, session: Any = None) -> tuple[str, list[BucketCheck]]:
    """The caller's account and the check of each of ``config``'s bucket names."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    session = session or boto3.session.Session()
    region = config.network.region
    try:
        # Credentials first: HeadBucket answers 403 to an unknown access key too, which would read as "taken".
        account = session.client("sts", region_name=region).get_caller_identity()["Account"]
    except (BotoCoreError, ClientError) as error:
        raise PreflightError(f"no usable AWS credentials ({error})") from error
    s3 = session.client("s3", region_name=region)
    return account, [check_bucket(s3, name) for name in config.bucket_names]


def load_context(overrides: Sequence[str] = (), root: Path = ROOT) -> dict[str, Any]:
    """cdk.json's context with ``key=value`` overrides, as the CDK CLI assembles it."""
    cdk_json = root / "cdk.json"
    context = dict(json.loads(cdk_json.read_text()).get("context", {})) if cdk_json.exists() else {}
    for pair in overrides:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise PreflightError(f"context {pair!r}: expected KEY=VALUE, e.g. bucket_suffix=acme-1")
        context[key] = value
    return context


def environment(target: str) -> str:
    """``prod`` or its stage id ``TradaiProd`` (what STAGE= names) -> ``prod``."""
    env = ENV_BY_STAGE.get(target, target)
    if env not in ENVIRONMENTS:
        raise PreflightError(
            f"unknown environment {target!r}: one of {', '.join(ENVIRONMENTS)} or {', '.join(ENV_BY_STAGE)}"
        )
    return env


def run(
    target: str,
    overrides: Sequence[str] = (),
    session: Any = None,
    out: TextIO = sys.stdout,
    err: TextIO = sys.stderr,
    root: Path = ROOT,
) -> int:
    """The preflight of one environment; returns the exit code."""
    try:
        env = environment(target)
        context = load_context(overrides, root)
        config = config_for(env, image_tag=context.get("image_tag"), bucket_suffix=context.get("bucket_suffix"))
        account, checks = check_buckets(config, session)
    except (PreflightError, ConfigError) as error:
        print(f"preflight: cannot check the bucket names: {error}", file=err)
        return 2
    stage = next(stage for stage, name in ENV_BY_STAGE.items() if name == env)
    print(f"preflight {stage}: S3 bucket names as seen by account {account}", file=out)
    for check in checks:
        print(f"  {'TAKEN' if check.status == TAKEN else 'ok':5}  {check.name}: {check.detail}", file=out)
    taken = [check.name for check in checks if check.status == TAKEN]
    if not taken:
        return 0
    print(_taken_message(config, stage, taken), file=err)
    return 1


def _taken_message(config: TradaiConfig, stage: str, taken: list[str]) -> str:
    current = config.naming.bucket_suffix
    return "\n".join(
        [
            f"preflight: {len(taken)} of {len(config.bucket_names)} bucket names of {stage} belong to another AWS "
            f"account: {', '.join(taken)}.",
            "S3 bucket names are global, so `cdk deploy` would fail half-way through the persistent stack.",
            f"Override: choose a bucket suffix{f' other than {current!r}' if current else ''} (lowercase letters, "
            f"digits, hyphens; names become {config.naming.name('logs')}-<suffix>, ...) and use it for every command "
            "of this stage, before its first deploy:",
            f'  in cdk.json "context": "bucket_suffix": {{"{config.env}": "<something>"}}   (naming.bucket_suffix)',
            "  or per command: -c bucket_suffix=<something>, "
            f"e.g. make preflight STAGE={stage} BUCKET_SUFFIX=<something>",
            f"                  and cdk deploy -c image_tag=<sha> -c bucket_suffix=<something> '{stage}/*'",
        ]
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tradai_cdk.preflight", description=__doc__.split("\n\n")[0])
    parser.add_argument("environment", help=f"{', '.join(ENVIRONMENTS)} or a stage id ({', '.join(ENV_BY_STAGE)})")
    parser.add_argument(
        "-c",
        "--context",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="CDK context, as for cdk synth/deploy (bucket_suffix, image_tag)",
    )
    args = parser.parse_args(argv)
    return run(args.environment, args.context)


if __name__ == "__main__":
    sys.exit(main())
