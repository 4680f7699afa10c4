"""Pure decisions of the orphan scanner (no AWS calls).

A run is stuck when it is still SUBMITTED or RUNNING some minutes after it was created. It is alive
while its Step Functions execution is RUNNING or its ECS task has not STOPPED; otherwise nothing will
ever finish it and it is failed as orphaned. A backtest task is orphaned when its run (its JOB_ID override,
else startedBy) does not exist or is terminal: nothing will ever read its result, so it is stopped.
"""

from __future__ import annotations

from dataclasses import dataclass

from . import contract
from .aws_access import MISSING, TaskInfo
from .runs import Run

MAX_RUNS = 50  # stuck runs examined per scan
MAX_TASKS = 100  # running strategy tasks examined per scan
TASK_STOP_REASON = "orphan: no live run"
LIVE_EXECUTION = frozenset({"RUNNING"})


@dataclass(frozen=True)
class Verdict:
    orphaned: bool
    reason: str


def assess_run(run: Run, execution_status: str | None, task_status: str | None) -> Verdict:
    """Whether a stuck run is orphaned.

    ``execution_status``: DescribeExecution status of run.execution_arn (None when the run has none,
    MISSING when Step Functions does not know it); ``task_status``: DescribeTasks lastStatus of
    run.task_arn (None when the run has none, MISSING when ECS does not know it).
    """
    if run.terminal:
        return Verdict(False, f"run is {run.status} already")
    if run.execution_arn and execution_status in LIVE_EXECUTION:
        return Verdict(False, f"execution {execution_status}")
    if run.task_arn and task_status not in (None, MISSING, "STOPPED"):
        return Verdict(False, f"task {task_status}")
    evidence = []
    if run.execution_arn:
        evidence.append(
            "execution not found" if execution_status in (None, MISSING) else f"execution {execution_status}"
        )
    if run.task_arn:
        evidence.append("task not found" if task_status in (None, MISSING) else f"task {task_status}")
    if not evidence:
        evidence.append(f"no execution or task was started for the {run.status} run")
    return Verdict(True, f"{' and '.join(evidence)} while the run is still {run.status}")


def assess_task(task: TaskInfo, run: Run | None) -> Verdict:
    """Whether a running strategy task is an orphaned backtest (to be stopped).

    Only backtest tasks (TRADING_MODE override "backtest") are judged: the family may also run other
    modes (e.g. train) whose JOB_ID is no backtest run. ``run`` is the run named by ``task.run_id``.
    """
    if task.trading_mode != contract.TRADING_MODE:
        return Verdict(False, f"not a backtest task (TRADING_MODE={task.trading_mode!r})")
    if not task.run_id:
        return Verdict(False, "backtest task without a run id (no JOB_ID or startedBy); left alone")
    if run is None:
        return Verdict(True, f"its run {task.run_id} does not exist")
    if run.status in contract.TERMINAL:
        return Verdict(True, f"its run {run.run_id} is {run.status}")
    return Verdict(False, f"its run {run.run_id} is {run.status}")
