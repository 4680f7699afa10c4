"""`deployments.deployer.handler` against moto: stage -> promote -> rollback through the workflow's steps."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from deployments import contract
from shared.settings import SettingsError

from .deployments_fixtures import (CLUSTER_ARN, CONFIGS_BUCKET, FAMILIES, PORTS, STRATEGY_CLASS,  # noqa: F401
                                   STRATEGY_ID, STRATEGY_NAME, cold_start, deploy_env, deploy_logs, emf_metrics,
                                   ecs_tasks_stay_running, error_logs, request)

DRY, LIVE = f"{STRATEGY_ID}#dry-run", f"{STRATEGY_ID}#live"


def environment_of(call: dict) -> dict[str, str]:
    [override] = call["overrides"]["containerOverrides"]
    assert override["name"] == contract.CONTAINER_NAME
    return {entry["name"]: entry["value"] for entry in override["environment"]}


def staged(env, deployment_id="stage-1", config_id="c1", config_hash="sha256-c1") -> dict:
    env.add_config(config_id, config_hash)
    state = env.run(request(contract.STAGE, config_hash=config_hash), deployment_id)
    assert state["outcome"] == "Deployed", state.get("error")
    return state


def promoted(env, deployment_id="promote-1") -> dict:
    state = env.run(request(contract.PROMOTE), deployment_id)
    assert state["outcome"] == "Deployed", state.get("error")
    return state


# --- the happy path ----------------------------------------------------------------------------------------------

def test_stage_promote_rollback_through_the_steps(deploy_env, capsys):
    env = deploy_env
    run_tasks = env.record_calls("ecs", "RunTask")

    # stage c1 into dry-run
    stage = staged(env)
    plan = stage["plan"]
    assert {k: plan[k] for k in ("mode", "strategy_id", "slot_key", "family", "config_path", "strategy")} == {
        "mode": "dry-run", "strategy_id": STRATEGY_ID, "slot_key": DRY, "family": FAMILIES["dry-run"],
        "config_path": f"s3://{CONFIGS_BUCKET}/configs/{STRATEGY_NAME}/c1.json", "strategy": STRATEGY_CLASS}
    assert plan["deadline"] > stage["check"]["checked_at"]
    [call] = run_tasks
    assert call["cluster"] == CLUSTER_ARN and call["taskDefinition"] == FAMILIES["dry-run"]
    assert call["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE_SPOT", "weight": 1}]
    assert "launchType" not in call
    assert call["networkConfiguration"] == {"awsvpcConfiguration": {
        "subnets": env.subnet_ids, "securityGroups": [env.security_group_id], "assignPublicIp": "DISABLED"}}
    assert call["startedBy"] == "stage-1"
    assert environment_of(call) == {"STRATEGY_ID": STRATEGY_ID, "STRATEGY": STRATEGY_CLASS, "TRADING_MODE": "dry-run",
                                    "CONFIG_PATH": plan["config_path"], "TRADING_STATE_KEY": DRY}
    assert {t["key"]: t["value"] for t in call["tags"]} == {
        "strategy_id": STRATEGY_ID, "deployment_id": "stage-1", "trading_mode": "dry-run"}
    dry_task = stage["task"]["task_arn"]
    slot = env.slot(DRY)
    assert {k: slot[k] for k in ("status", "mode", "deployment_id", "task_arn", "strategy", "strategy_name",
                                 "config_id", "config_path")} == {
        "status": "RUNNING", "mode": "dry-run", "deployment_id": "stage-1", "task_arn": dry_task,
        "strategy": STRATEGY_CLASS, "strategy_name": STRATEGY_NAME, "config_id": "c1",
        "config_path": plan["config_path"]}
    assert "ttl" not in slot and slot["last_heartbeat"] > slot["started_at"]
    record = env.deployment("stage-1")
    assert {k: record[k] for k in ("status", "action", "mode", "environment", "strategy_id", "strategy", "config_id",
                                   "task_arn", "requested_by", "kind")} == {
        "status": "SUCCEEDED", "action": "stage", "mode": "dry-run", "environment": "dev",
        "strategy_id": STRATEGY_ID, "strategy": STRATEGY_CLASS, "config_id": "c1", "task_arn": dry_task,
        "requested_by": "alice@example.com", "kind": contract.DEPLOYMENT_KIND}
    assert record["ttl"] > 0 and record["created_at"].endswith("Z")
    ip = stage["check"]["private_ip"]
    assert env.instance("dry-run") == {
        "AWS_INSTANCE_IPV4": ip, "AWS_INSTANCE_PORT": str(PORTS["dry-run"]), "strategy_id": STRATEGY_ID,
        "task_arn": dry_task, "deployment_id": "stage-1", "trading_mode": "dry-run"}

    # promote the dry-run: live runs c1, the dry-run is retired once live is healthy
    first_live = promoted(env)
    live_task = first_live["task"]["task_arn"]
    assert run_tasks[-1]["taskDefinition"] == FAMILIES["live"]
    assert run_tasks[-1]["capacityProviderStrategy"] == [{"capacityProvider": "FARGATE", "weight": 1}]
    assert environment_of(run_tasks[-1])["TRADING_MODE"] == "live"
    assert environment_of(run_tasks[-1])["TRADING_STATE_KEY"] == LIVE
    assert environment_of(run_tasks[-1])["CONFIG_PATH"] == plan["config_path"]
    assert env.slot(LIVE)["status"] == "RUNNING" and env.slot(LIVE)["config_id"] == "c1"
    assert env.deployment("promote-1")["status"] == "SUCCEEDED"
    assert env.deployment("promote-1")["staged_deployment_id"] == "stage-1"
    assert env.instance("live")["deployment_id"] == "promote-1"
    assert env.instance("live")["AWS_INSTANCE_PORT"] == "8004"
    assert first_live["activation"]["retired_deployment_id"] == "stage-1"
    assert env.slot(DRY)["status"] == "STOPPED" and env.slot(DRY)["retired_by"] == "promote-1"
    assert env.deployment("stage-1")["status"] == "RETIRED"
    assert env.task(dry_task)["lastStatus"] == "STOPPED"
    assert env.instance("dry-run") is None
    assert env.running_tasks() == [live_task]

    # an operator stops live; c2 is staged and promoted
    env.stop_externally(LIVE)
    staged(env, "stage-2", "c2", "sha256-c2")
    second_live = promoted(env, "promote-2")
    assert env.slot(LIVE)["config_id"] == "c2" and env.slot(LIVE)["deployment_id"] == "promote-2"
    assert env.deployment("promote-2")["previous_deployment_id"] == "promote-1"

    # roll back: promote-2 stopped first, then promote-1's config c1 restored
    rollback = env.run(request(contract.ROLLBACK), "rollback-1")
    assert rollback["outcome"] == "Deployed", rollback.get("error")
    assert rollback["plan"]["restored_deployment_id"] == "promote-1"
    assert rollback["plan"]["retire"]["deployment_id"] == "promote-2"
    assert env.task(second_live["task"]["task_arn"])["lastStatus"] == "STOPPED"
    assert env.deployment("promote-2")["status"] == "RETIRED"
    assert env.deployment("promote-2")["retired_by"] == "rollback-1"
    slot = env.slot(LIVE)
    assert (slot["status"], slot["deployment_id"], slot["config_id"]) == ("RUNNING", "rollback-1", "c1")
    assert environment_of(run_tasks[-1])["CONFIG_PATH"].endswith("/c1.json")
    assert env.instance("live")["deployment_id"] == "rollback-1"
    assert env.deployment("rollback-1")["status"] == "SUCCEEDED"
    assert env.deployment("rollback-1")["restored_deployment_id"] == "promote-1"
    assert env.running_tasks() == [rollback["task"]["task_arn"]]
    metrics = emf_metrics(capsys)
    assert metrics["DeploymentSucceeded"] == 5 and metrics["DeploymentRetired"] == 3
    assert "DeploymentFailed" not in metrics


# --- refusals ----------------------------------------------------------------------------------------------------

def test_a_second_stage_of_a_running_dry_run_is_refused_and_leaves_it_running(deploy_env, deploy_logs, capsys):
    env = deploy_env
    first = staged(env)
    env.add_config("c2", "sha256-c2")

    second = env.run(request(contract.STAGE, config_hash="sha256-c2"), "stage-2")

    assert second["outcome"] == "DeploymentFailed"
    assert type(second["exception"]).__name__ == "AlreadyRunning"
    assert "stage-1" in str(second["exception"])
    slot = env.slot(DRY)
    assert (slot["status"], slot["deployment_id"]) == ("RUNNING", "stage-1")
    assert env.running_tasks() == [first["task"]["task_arn"]]
    assert env.instance("dry-run")["deployment_id"] == "stage-1"
    record = env.deployment("stage-2")
    assert record["status"] == "FAILED" and record["error"].startswith("AlreadyRunning: ")
    assert (record["action"], record["mode"], record["strategy_id"]) == ("stage", "dry-run", STRATEGY_ID)
    assert second["abort"]["stopped_tasks"] == [] and second["abort"]["deregistered"] is False
    metrics = emf_metrics(capsys)
    assert metrics["DeploymentRefused"] == 1 and metrics["DeploymentFailed"] == 1


def test_a_stage_while_another_is_starting_is_refused(deploy_env):
    env = deploy_env
    env.add_config("c1", "sha256-c1")
    env.invoke("prepare", "stage-1", request(contract.STAGE))
    with pytest.raises(Exception) as refused:
        env.invoke("prepare", "stage-2", request(contract.STAGE))
    assert type(refused.value).__name__ == contract.ERROR_ALREADY_RUNNING
    assert env.slot(DRY)["deployment_id"] == "stage-1"


def test_promote_without_a_running_dry_run_is_refused(deploy_env):
    state = deploy_env.run(request(contract.PROMOTE), "promote-1")
    assert type(state["exception"]).__name__ == "NotStaged"
    assert deploy_env.slot(LIVE) is None
    assert deploy_env.deployment("promote-1")["status"] == "FAILED"


def test_promote_while_live_runs_is_refused(deploy_env):
    env = deploy_env
    staged(env)
    live = promoted(env)
    staged(env, "stage-2", "c2", "sha256-c2")
    state = env.run(request(contract.PROMOTE), "promote-2")
    assert type(state["exception"]).__name__ == "AlreadyLive"
    assert env.slot(LIVE)["deployment_id"] == "promote-1" and env.slot(LIVE)["status"] == "RUNNING"
    assert env.slot(DRY)["status"] == "RUNNING" and env.slot(DRY)["deployment_id"] == "stage-2"
    assert env.instance("live")["task_arn"] == live["task"]["task_arn"]


@pytest.mark.parametrize("owner, expected", [
    (None, "no config version of pascal has config_hash sha256-zz"),
    ("other", "config hash sha256-zz belongs to strategy other, not to pascal"),
])
def test_stage_of_an_unknown_config_hash_is_refused(deploy_env, owner, expected):
    if owner:
        deploy_env.add_config("x1", "sha256-zz", strategy_name=owner)
    state = deploy_env.run(request(contract.STAGE, config_hash="sha256-zz"), "stage-1")
    assert type(state["exception"]).__name__ == "UnknownConfig"
    assert str(state["exception"]) == expected
    assert deploy_env.slot(DRY) is None and deploy_env.running_tasks() == []
    assert deploy_env.deployment("stage-1")["error"] == f"UnknownConfig: {expected}"


def test_stage_of_a_config_without_its_file_is_refused(deploy_env):
    deploy_env.add_config("c1", "sha256-c1", s3_key=None)
    with pytest.raises(Exception, match="has no s3_key") as refused:
        deploy_env.invoke("prepare", "stage-1", request(contract.STAGE))
    assert type(refused.value).__name__ == "UnknownConfig"


def test_rollback_with_nothing_to_roll_back_to_leaves_live_running(deploy_env):
    env = deploy_env
    staged(env)
    live = promoted(env)
    state = env.run(request(contract.ROLLBACK), "rollback-1")
    assert type(state["exception"]).__name__ == "NothingToRollBackTo"
    assert env.slot(LIVE)["deployment_id"] == "promote-1" and env.slot(LIVE)["status"] == "RUNNING"
    assert env.running_tasks() == [live["task"]["task_arn"]]
    assert env.instance("live")["deployment_id"] == "promote-1"
    assert env.deployment("promote-1")["status"] == "SUCCEEDED"
    assert env.deployment("rollback-1")["status"] == "FAILED"


def test_rollback_to_a_requested_deployment(deploy_env):
    env = deploy_env
    staged(env)
    promoted(env)
    env.stop_externally(LIVE)
    staged(env, "stage-2", "c2", "sha256-c2")
    promoted(env, "promote-2")
    env.stop_externally(LIVE)
    staged(env, "stage-3", "c3", "sha256-c3")
    promoted(env, "promote-3")

    state = env.run(request(contract.ROLLBACK, deployment_id="promote-1"), "rollback-1")

    assert state["outcome"] == "Deployed"
    assert state["plan"]["restored_deployment_id"] == "promote-1" and env.slot(LIVE)["config_id"] == "c1"
    assert env.deployment("promote-3")["status"] == "RETIRED"
    refused = env.run(request(contract.ROLLBACK, deployment_id="stage-2"), "rollback-2")
    assert type(refused["exception"]).__name__ == "NothingToRollBackTo"
    assert env.slot(LIVE)["deployment_id"] == "rollback-1"


# --- a promote that fails ----------------------------------------------------------------------------------------

def test_promote_never_healthy_aborts_at_the_deadline_and_keeps_the_dry_run(deploy_env, capsys):
    env = deploy_env
    dry = staged(env)

    def silent(state, attempt):  # the live container never heartbeats; time passes
        env.advance(seconds=400)

    state = env.run(request(contract.PROMOTE), "promote-1", before_check=silent)

    assert state["outcome"] == "DeploymentFailed"
    assert state["check"]["state"] == "FAILED" and "deadline" in state["check"]["reason"]
    assert "no heartbeat yet" in state["check"]["reason"]
    live_task = state["task"]["task_arn"]
    assert env.task(live_task)["lastStatus"] == "STOPPED"
    assert "aborted: TaskUnhealthy" in env.task(live_task)["stoppedReason"]
    assert env.slot(LIVE)["status"] == "FAILED" and env.slot(LIVE)["deployment_id"] == "promote-1"
    record = env.deployment("promote-1")
    assert record["status"] == "FAILED" and record["error"].startswith("TaskUnhealthy: not healthy by the deadline")
    assert env.slot(DRY)["status"] == "RUNNING" and env.slot(DRY)["deployment_id"] == "stage-1"
    assert env.running_tasks() == [dry["task"]["task_arn"]]
    assert env.instance("dry-run")["deployment_id"] == "stage-1" and env.instance("live") is None
    assert env.deployment("stage-1")["status"] == "SUCCEEDED"
    assert emf_metrics(capsys)["DeploymentFailed"] == 1


def test_promote_whose_live_task_stops_aborts_with_the_stop_reason(deploy_env):
    env = deploy_env
    dry = staged(env)

    def crash(state, attempt):
        env.set_task(state["task"]["task_arn"], last_status="STOPPED",
                     stopped_reason="Essential container in task exited")

    state = env.run(request(contract.PROMOTE), "promote-1", before_check=crash)

    assert state["check"]["state"] == "FAILED"
    assert state["check"]["reason"] == "the task stopped: Essential container in task exited"
    assert env.deployment("promote-1")["error"] == "TaskUnhealthy: the task stopped: Essential container in task exited"
    assert env.slot(LIVE)["status"] == "FAILED"
    assert env.slot(DRY)["status"] == "RUNNING" and env.running_tasks() == [dry["task"]["task_arn"]]


def test_check_waits_for_running_health_and_a_fresh_heartbeat(deploy_env):
    env = deploy_env
    env.add_config("c1", "sha256-c1")
    req = request(contract.STAGE)
    plan = env.invoke("prepare", "stage-1", req)
    task = env.invoke("start", "stage-1", req, plan=plan)

    def check():
        return env.invoke("check", "stage-1", req, plan=plan, task=task)

    env.set_task(task["task_arn"], last_status="PENDING")
    assert check()["state"] == "WAITING"
    env.set_task(task["task_arn"], last_status="RUNNING", health="UNHEALTHY")
    env.beat(DRY)
    waiting = check()
    assert waiting["state"] == "WAITING" and waiting["reason"] == "the container is UNHEALTHY"
    env.set_task(task["task_arn"], health="UNKNOWN")
    healthy = check()
    assert healthy["state"] == "HEALTHY" and healthy["private_ip"] and healthy["health_status"] == "UNKNOWN"
    assert env.slot(DRY)["status"] == "STARTING"  # check only reads


# --- idempotency -------------------------------------------------------------------------------------------------

def test_every_step_replayed_gives_the_same_outcome_once(deploy_env):
    env = deploy_env
    run_tasks = env.record_calls("ecs", "RunTask")
    registrations = env.record_calls("servicediscovery", "RegisterInstance")
    staged(env)
    req = request(contract.PROMOTE)
    plan = env.invoke("prepare", "promote-1", req)
    env.advance(seconds=5)
    assert env.invoke("prepare", "promote-1", req) == plan  # same plan, same deadline
    task = env.invoke("start", "promote-1", req, plan=plan)
    again = env.invoke("start", "promote-1", req, plan=plan)
    assert again["task_arn"] == task["task_arn"] and again["adopted"] is True
    assert len(run_tasks) == 2  # stage-1's and promote-1's
    env.beat(LIVE)
    check = env.invoke("check", "promote-1", req, plan=plan, task=task)
    assert check["state"] == "HEALTHY"
    activation = env.invoke("activate", "promote-1", req, plan=plan, task=task, check=check)
    assert env.invoke("activate", "promote-1", req, plan=plan, task=task, check=check) == activation
    assert len(registrations) == 2  # stage-1's and promote-1's: the replay found the registration in place
    assert env.slot(LIVE)["status"] == "RUNNING" and env.deployment("promote-1")["status"] == "SUCCEEDED"
    assert env.slot(DRY)["status"] == "STOPPED" and env.deployment("stage-1")["status"] == "RETIRED"
    assert env.invoke("prepare", "promote-1", req) == plan  # after the end: the plan, nothing claimed again
    assert env.slot(LIVE)["status"] == "RUNNING"
    # abort of a deployment that succeeded does not undo it
    late = env.invoke("abort", "promote-1", req, plan=plan, task=task, error={"Error": "States.Timeout"})
    assert late["aborted"] is False and env.running_tasks() == [task["task_arn"]]
    assert env.instance("live")["deployment_id"] == "promote-1"


def test_abort_replayed_is_a_no_op(deploy_env):
    env = deploy_env
    env.add_config("c1", "sha256-c1")
    req = request(contract.STAGE)
    plan = env.invoke("prepare", "stage-1", req)
    task = env.invoke("start", "stage-1", req, plan=plan)
    error = {"Error": "States.TaskFailed", "Cause": "boom"}
    first = env.invoke("abort", "stage-1", req, plan=plan, task=task, error=error)
    second = env.invoke("abort", "stage-1", req, plan=plan, task=task, error={"Error": "Other"})
    assert first["stopped_tasks"] == [task["task_arn"]]
    assert second["aborted"] is True and second["deregistered"] is False
    assert env.deployment("stage-1")["error"] == "States.TaskFailed: boom"  # the first error is kept
    assert env.slot(DRY)["status"] == "FAILED" and env.running_tasks() == []
    # the slot is free again: a new stage may claim it
    assert env.run(request(contract.STAGE), "stage-2")["outcome"] == "Deployed"


def test_start_adopts_a_task_a_failed_attempt_started(deploy_env):
    env = deploy_env
    env.add_config("c1", "sha256-c1")
    req = request(contract.STAGE)
    env.fail("dynamodb", "UpdateItem", "ProvisionedThroughputExceededException", status=500,
             when=lambda body: ":task/" in str(body))  # recording the started task on the slot
    plan = env.invoke("prepare", "stage-1", req)
    with pytest.raises(ClientError):
        env.invoke("start", "stage-1", req, plan=plan)
    [started] = env.running_tasks()
    task = env.invoke("start", "stage-1", req, plan=plan)
    assert task == {"task_arn": started, "started_by": "stage-1", "adopted": True}
    assert env.running_tasks() == [started] and env.slot(DRY)["task_arn"] == started


def test_a_long_deployment_id_gets_a_deterministic_started_by(deploy_env):
    env = deploy_env
    env.add_config("c1", "sha256-c1")
    deployment_id = "stage-" + "x" * 60
    state = env.run(request(contract.STAGE), deployment_id)
    assert state["outcome"] == "Deployed"
    tag = state["task"]["started_by"]
    assert len(tag) == 36 and tag == state["plan"]["started_by"] and tag.startswith("stage-xxx")
    assert env.task(state["task"]["task_arn"])["startedBy"] == tag


# --- malformed input and AWS errors ------------------------------------------------------------------------------

@pytest.mark.parametrize("event_part, field", [
    ({"step": None}, "step"),
    ({"step": "deploy"}, "step"),
    ({"deployment_id": None}, "deployment_id"),
    ({"request": request("restart")}, "request.action"),
    ({"request": request(contract.STAGE, strategy_id="Pascal#BTC")}, "request.strategy_id"),
    ({"request": request(contract.STAGE, config_hash=None)}, "request.config_hash"),
    ({"request": request(contract.STAGE, strategy_name=None)}, "request.strategy_name"),
    ({"request": "stage"}, "request"),
])
def test_malformed_events_raise_a_value_error_naming_the_field(deploy_env, deploy_logs, capsys, event_part, field):
    parts = {"step": "prepare", "deployment_id": "stage-1", "request": request(contract.STAGE), **event_part}
    req = parts.pop("request")
    with pytest.raises(ValueError, match=f"invalid deployment event: {field}=") as rejected:
        deploy_env.invoke(parts["step"], parts["deployment_id"], req)
    assert type(rejected.value) is ValueError
    assert [r.getMessage() for r in error_logs(deploy_logs)] == [f"rejected deployment event: {rejected.value}"]
    assert emf_metrics(capsys) == {"InvalidDeploymentEvent": 1}
    assert deploy_env.items("tradai-trading-state-dev") == []


def test_a_malformed_plan_is_rejected_by_start(deploy_env):
    with pytest.raises(ValueError, match=r"plan.deadline="):
        deploy_env.invoke("start", "stage-1", request(contract.STAGE), plan={
            "deployment_id": "stage-1", "action": "stage", "mode": "dry-run", "strategy_id": STRATEGY_ID,
            "slot_key": DRY, "deadline": "tomorrow"})
    with pytest.raises(ValueError, match=r"invalid deployment event: plan=\{\}"):
        deploy_env.invoke("check", "stage-1", request(contract.STAGE), plan={})


def test_abort_of_a_malformed_request_records_what_it_can(deploy_env):
    error = {"Error": "ValueError", "Cause": '{"errorMessage": "invalid deployment event: request.strategy_id=..."}'}
    result = deploy_env.invoke("abort", "stage-1", request(contract.STAGE, strategy_id="BAD#"), plan={}, task={},
                               error=error)
    assert result["aborted"] is True
    record = deploy_env.deployment("stage-1")
    assert record["status"] == "FAILED" and record["error"].startswith("ValueError: invalid deployment event")
    assert "strategy_id" not in record


def test_a_transient_aws_error_is_re_raised_and_the_retry_starts_one_task(deploy_env, deploy_logs):
    env = deploy_env
    env.add_config("c1", "sha256-c1")
    req = request(contract.STAGE)
    throttled = env.fail("ecs", "RunTask", "ThrottlingException")  # before the first call creates the client
    plan = env.invoke("prepare", "stage-1", req)
    with pytest.raises(ClientError) as raised:
        env.invoke("start", "stage-1", req, plan=plan)
    assert raised.value.response["Error"]["Code"] == "ThrottlingException" and throttled == [1]
    assert env.running_tasks() == [] and env.slot(DRY)["status"] == "STARTING"
    task = env.invoke("start", "stage-1", req, plan=plan)
    assert env.running_tasks() == [task["task_arn"]] and task["adopted"] is False
    assert error_logs(deploy_logs) == []  # a transient error is a warning


def test_a_transient_dynamodb_error_in_prepare_is_re_raised(deploy_env):
    deploy_env.add_config("c1", "sha256-c1")
    deploy_env.fail("dynamodb", "GetItem", "InternalServerError", status=500)
    with pytest.raises(ClientError, match="InternalServerError"):
        deploy_env.invoke("prepare", "stage-1", request(contract.STAGE))


def test_run_task_failures_are_a_clear_error(deploy_env):
    env = deploy_env
    env.add_config("c1", "sha256-c1")
    env.fail("ecs", "RunTask", "", response={"tasks": [], "failures": [
        {"reason": "Capacity is unavailable at this time.", "detail": "FARGATE_SPOT"}]})
    state = env.run(request(contract.STAGE), "stage-1")
    assert type(state["exception"]).__name__ == "TaskStartFailed"
    assert "Capacity is unavailable at this time. FARGATE_SPOT" in str(state["exception"])
    assert env.slot(DRY)["status"] == "FAILED"
    assert env.deployment("stage-1")["error"].startswith("TaskStartFailed: RunTask of dry-run-trading-dev")


def test_an_invalid_trading_modes_setting_names_the_variable(deploy_env):
    deploy_env.set_env(TRADING_MODES='{"live": {}}')
    with pytest.raises(SettingsError) as raised:
        deploy_env.invoke("prepare", "stage-1", request(contract.STAGE))
    assert raised.value.name == "TRADING_MODES" and "dry-run" in raised.value.allowed
