"""Stack base class: pinned availability zones (synth needs no AZ lookup) and encrypted log groups."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from constructs import Construct

from ..config import TradaiConfig
from ..config.validation import LOG_RETENTION_DAYS
from ..constructs.ids import pascal  # noqa: F401  (re-exported: the stacks' construct ids)
from ..constructs.log_encryption import LogEncryption


class TradaiStack(cdk.Stack):
    """A stack of one environment; its AZs come from the config, never a lookup; its log groups are encrypted
    with a customer managed key of its own."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: TradaiConfig,
        availability_zones: Sequence[str],
        **kwargs: Any,
    ):
        self._pinned_azs = list(availability_zones)
        super().__init__(scope, construct_id, termination_protection=config.profile.deletion_protection, **kwargs)
        self.config = config
        # Each stack's log groups on its own key: a same-stack reference cannot go stale across deploys
        # (a cross-stack one could), and the Control Tower rule CT.CLOUDWATCH.PR.3 can verify it.
        self.log_encryption = LogEncryption(
            self, "LogEncryption", alias=f"alias/{self.stack_name}-logs", removal_policy=stateful_removal_policy(config)
        )

    def encrypt_log_groups(self) -> None:
        """Put every log group of the stack on its key; the stage calls it once every stack is built."""
        self.log_encryption.encrypt_log_groups(self)

    @property
    def availability_zones(self) -> list[str]:
        return self._pinned_azs


def log_retention(days: int) -> logs.RetentionDays:
    """CloudWatch retention enum for a validated number of days."""
    finite = [member for member in logs.RetentionDays if member is not logs.RetentionDays.INFINITE]
    return dict(zip(LOG_RETENTION_DAYS, finite))[days]


def stateful_removal_policy(config: TradaiConfig) -> cdk.RemovalPolicy:
    """RETAIN where the environment demands deletion protection (prod), else DESTROY."""
    return cdk.RemovalPolicy.RETAIN if config.profile.deletion_protection else cdk.RemovalPolicy.DESTROY
