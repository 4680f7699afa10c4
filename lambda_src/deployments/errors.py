"""Refusals of a deployment step: the Lambda error type the workflow sees is the class name (contract.REFUSALS).

A refusal is a verdict, not a fault: retrying the step would give the same answer, so the workflow's catch
sends the deployment to abort, which records it FAILED with the message.
"""

from __future__ import annotations

from . import contract


class DeploymentRefused(Exception):
    """Base of the deployer's refusals."""


class AlreadyRunning(DeploymentRefused):
    """stage: the strategy's dry-run slot is held by another deployment that is not STOPPED or FAILED."""


class AlreadyLive(DeploymentRefused):
    """promote/rollback: the strategy's live slot is held by another deployment."""


class NotStaged(DeploymentRefused):
    """promote: the strategy has no RUNNING dry-run to promote."""


class NothingToRollBackTo(DeploymentRefused):
    """rollback: no earlier successful live deployment (or the requested one is not restorable)."""


class UnknownConfig(DeploymentRefused):
    """stage: no config version with the hash for this strategy, or the version lacks its file or class."""


class TaskStartFailed(DeploymentRefused):
    """RunTask answered with failures (capacity, image, network...)."""


class SlotLost(DeploymentRefused):
    """The trading-state slot no longer belongs to this deployment."""


REFUSALS = (AlreadyRunning, AlreadyLive, NotStaged, NothingToRollBackTo, UnknownConfig, TaskStartFailed, SlotLost)
assert tuple(cls.__name__ for cls in REFUSALS) == contract.REFUSALS
