"""Handler of `tradai-strategy-deployer-<env>`: entry point ``deployments.deployer.handler``.

Invoked by the workflow ``tradai-strategy-deployment-<env>`` once per step (contract.py):
{"step": prepare | start | check | activate | abort, "deployment_id": <execution name>, "request": <workflow input>,
 "plan": <prepare's output>, "task": <start's output>, "check": <last check>, "error": {"Error", "Cause"}}.
Outputs (JSON objects the workflow passes on):
  prepare  the plan: deployment_id, action, mode, strategy_name, strategy_id, strategy, config_id, config_path,
           slot_key, family, deadline, started_by, requested_by, previous/restored_deployment_id, retire
  start    {"task_arn", "started_by", "adopted"}
  check    {"state": WAITING | HEALTHY | FAILED, "reason", "task_arn", "private_ip", "last_status", "health_status",
            "last_heartbeat", "checked_at"}
  activate {"task_arn", "private_ip", "service_id", "instance_id", "retired_deployment_id"}
  abort    {"aborted", "status", "error", "stopped_tasks", "deregistered"}
Errors: ValueError naming the field (malformed event), the refusals of errors.py (class name = error name:
AlreadyRunning, AlreadyLive, NotStaged, NothingToRollBackTo, UnknownConfig, TaskStartFailed, SlotLost), AWS
errors unchanged (transient ones included: every step may be retried). The workflow's catch sends them to abort.
Env: TRADING_STATE_TABLE, DEPLOYMENTS_TABLE, CONFIG_VERSIONS_TABLE, CONFIGS_BUCKET, ECS_CLUSTER, TASK_SUBNETS,
TASK_SECURITY_GROUPS, TRADAI_ENV, DEPLOYMENT_TTL_DAYS, HEALTH_TIMEOUT_SECONDS, TRADING_MODES (settings.py).
"""

from __future__ import annotations

import functools
import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import BotoCoreError, ClientError

from shared.aws import cached_client, error_code, is_transient

from . import contract
from .aws_access import CloudMap, ConfigVersions, Deployments, Ecs, TradingSlots
from .errors import DeploymentRefused
from .observability import METRIC_INVALID_EVENT, METRIC_REFUSED, logger, metrics, tracer
from .request import parse_step
from .settings import DeployerSettings, deployer_settings
from .steps import Deployer


@functools.cache
def settings() -> DeployerSettings:
    """Read and validated once per execution environment (cold start)."""
    return deployer_settings(os.environ)


@functools.cache
def deployer() -> Deployer:
    config, dynamodb = settings(), cached_client("dynamodb")
    return Deployer(
        config,
        Ecs(cached_client("ecs"), config),
        CloudMap(cached_client("servicediscovery")),
        TradingSlots(dynamodb, config.trading_table),
        Deployments(dynamodb, config.deployments_table),
        ConfigVersions(dynamodb, config.config_versions_table),
    )


STEPS = {
    contract.STEP_PREPARE: Deployer.prepare,
    contract.STEP_START: Deployer.start,
    contract.STEP_CHECK: Deployer.check,
    contract.STEP_ACTIVATE: Deployer.activate,
    contract.STEP_ABORT: Deployer.abort,
}


@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    steps = deployer()  # a configuration error fails the invocation (SettingsError names the variable)
    try:
        step, deployment_id = parse_step(event)
        logger.append_keys(step=step, deployment_id=deployment_id)
        return STEPS[step](steps, deployment_id, event)
    except DeploymentRefused as exc:
        logger.warning(f"deployment refused: {exc}", extra={"error_name": type(exc).__name__})
        metrics.add_metric(METRIC_REFUSED, MetricUnit.Count, 1)
        raise
    except ValueError as exc:
        logger.error(f"rejected deployment event: {exc}")
        metrics.add_metric(METRIC_INVALID_EVENT, MetricUnit.Count, 1)
        raise
    except (ClientError, BotoCoreError) as exc:
        transient = is_transient(exc)
        (logger.warning if transient else logger.error)(
            "AWS call failed" + ("; transient, the step may be retried" if transient else ""),
            extra={"error_code": error_code(exc), "error": str(exc)},
        )
        raise
