"""The AWS calls of the backtest functions: ECS tasks, Step Functions executions, notifications.

Thin wrappers: they shape requests and responses and map "not found" answers to values; every other
error propagates as botocore raises it (the callers classify it with shared.aws.is_transient).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from shared.aws import STOP_REASON_MAX, RunTaskOutcome, error_code, stop_task  # noqa: F401  (STOP_REASON_MAX re-exported)

from . import contract
from .request import BacktestRequest
from .settings import EcsTarget

STARTED_BY_MAX = 36  # ECS startedBy holds at most 36 characters
DESCRIBE_BATCH = 100  # DescribeTasks takes at most 100 tasks
MISSING = "MISSING"  # status of a task or execution AWS no longer knows


def started_by(run_id: str) -> str:
    """The ECS startedBy tag of a run's task (the consumer sets it; see TaskInfo for the state machine's)."""
    return run_id[:STARTED_BY_MAX]


@dataclass(frozen=True)
class TaskInfo:
    """What the scanner and cleanup need of an ECS task.

    ``run_id``: the JOB_ID override of the strategy container (both launchers set it; job_id is the
    run_id), else startedBy: a task the state machine started does not carry the run id in startedBy
    (CDK's EcsRunTask cannot set it; Step Functions puts its own name there). ``trading_mode``: its
    TRADING_MODE override, if any.
    """

    task_arn: str
    last_status: str
    desired_status: str
    started_by: str
    created_at: datetime | None = None
    run_id: str = ""
    trading_mode: str | None = None

    @classmethod
    def from_description(cls, task: dict[str, Any]) -> TaskInfo:
        environment = {
            entry.get("name"): entry.get("value")
            for override in (task.get("overrides") or {}).get("containerOverrides") or []
            if override.get("name") == contract.CONTAINER_NAME
            for entry in override.get("environment") or []
        }
        started = task.get("startedBy", "")
        return cls(
            task["taskArn"],
            task.get("lastStatus", ""),
            task.get("desiredStatus", ""),
            started,
            task.get("createdAt"),
            run_id=environment.get(contract.RUN_OVERRIDES["job_id"]) or started,
            trading_mode=environment.get(contract.RUN_OVERRIDES["trading_mode"]),
        )


@dataclass(frozen=True)
class Ecs:
    client: Any
    cluster: str

    def run_task(self, target: EcsTarget, request: BacktestRequest) -> RunTaskOutcome:
        """RunTask of the strategy container for one run (capacity provider strategy, private subnets)."""
        response = self.client.run_task(
            cluster=self.cluster,
            taskDefinition=target.task_family,
            count=1,
            capacityProviderStrategy=[{"capacityProvider": target.capacity_provider, "weight": 1}],
            networkConfiguration={
                "awsvpcConfiguration": {
                    "subnets": list(target.subnets),
                    "securityGroups": list(target.security_groups),
                    "assignPublicIp": "DISABLED",
                }
            },
            startedBy=started_by(request.run_id),
            overrides={
                "containerOverrides": [
                    {"name": contract.CONTAINER_NAME, "environment": request.container_environment()}
                ]
            },
            propagateTags="TASK_DEFINITION",
        )
        return RunTaskOutcome.from_response(response)

    def tasks_started_by(self, tag: str, desired_status: str = "RUNNING") -> list[str]:
        pages = self.client.get_paginator("list_tasks").paginate(
            cluster=self.cluster, startedBy=tag, desiredStatus=desired_status
        )
        return [arn for page in pages for arn in page.get("taskArns", [])]

    def describe(self, task_arns: list[str]) -> dict[str, TaskInfo]:
        """The tasks ECS still knows, by ARN; the others (reported MISSING) are left out."""
        found: dict[str, TaskInfo] = {}
        for start in range(0, len(task_arns), DESCRIBE_BATCH):
            batch = task_arns[start : start + DESCRIBE_BATCH]
            for task in self.client.describe_tasks(cluster=self.cluster, tasks=batch).get("tasks", []):
                found[task["taskArn"]] = TaskInfo.from_description(task)
        return found

    def running_tasks(self, limit: int, family: str | None = None) -> list[str]:
        """Up to ``limit`` task ARNs (of ``family``, if given) whose desired status is RUNNING."""
        arns: list[str] = []
        params = {"cluster": self.cluster, "desiredStatus": "RUNNING", **({"family": family} if family else {})}
        while len(arns) < limit:
            page = self.client.list_tasks(**params, maxResults=min(100, limit - len(arns)))
            arns.extend(page.get("taskArns", []))
            if not page.get("nextToken"):
                break
            params["nextToken"] = page["nextToken"]
        return arns[:limit]

    def stop(self, task_arn: str, reason: str) -> bool:
        """StopTask (stopping a stopped task is accepted); False when ECS does not know the task."""
        return stop_task(self.client, self.cluster, task_arn, reason)


@dataclass(frozen=True)
class StepFunctions:
    client: Any

    def start(self, state_machine_arn: str, name: str, payload: dict[str, Any]) -> tuple[str, bool]:
        """StartExecution named ``name``; (execution ARN, True) when an execution of that name already existed."""
        try:
            response = self.client.start_execution(
                stateMachineArn=state_machine_arn, name=name, input=json.dumps(payload, separators=(",", ":"))
            )
        except ClientError as exc:
            if error_code(exc) == "ExecutionAlreadyExists":
                return execution_arn(state_machine_arn, name), True
            raise
        return response["executionArn"], False

    def status(self, arn: str) -> str:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED, PENDING_REDRIVE; MISSING when unknown."""
        try:
            return self.client.describe_execution(executionArn=arn)["status"]
        except ClientError as exc:
            if error_code(exc) == "ExecutionDoesNotExist":
                return MISSING
            raise


def execution_arn(state_machine_arn: str, name: str) -> str:
    """The ARN of a standard workflow's execution ``name``."""
    return f"{state_machine_arn.replace(':stateMachine:', ':execution:', 1)}:{name}"
