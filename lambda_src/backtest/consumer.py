"""Handler of `tradai-backtest-consumer-<env>` (LAUNCH_MODE=ecs) and `tradai-sqs-consumer-<env>`
(LAUNCH_MODE=stepfunctions): entry point ``backtest.consumer.handler``.

Consumes tradai-backtest-queue.fifo batches. Each record is validated (``request``), made idempotent
per job_id (Powertools idempotency, tradai-idempotency table) and submitted (``launch``). A record that
raises is reported in ``batchItemFailures``; with ``skip_group_on_error`` the records after it in the
same message group are reported too (FIFO order), while other groups go on. After maxReceiveCount (3)
SQS moves a failing message to the dead-letter queue: nothing is dropped silently.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig, idempotent_function
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.aws import cached_client

from .aws_access import Ecs, StepFunctions
from .launch import Submission
from .observability import METRIC_INVALID_REQUEST, logger, metrics, tracer
from .request import BacktestRequest, InvalidRequest, parse_request
from .runs import Runs
from .settings import ConsumerSettings, consumer_settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
    from aws_lambda_powertools.utilities.idempotency.persistence.datarecord import DataRecord

# Same prefix in both deployments, so a job_id is launched once whichever consumer receives it.
IDEMPOTENCY_KEY_PREFIX = "backtest-consumer.submit"
IDEMPOTENCY_EXPIRY_SECONDS = 24 * 60 * 60  # past the queue's redelivery window; the run record guards beyond

processor = SqsFifoPartialProcessor(skip_group_on_error=True)
# Report every failed record in batchItemFailures, even when the whole batch failed (same retry effect as
# raising, but the response always says which records failed).
processor.raise_on_entire_batch_failure = False


@functools.cache
def settings() -> ConsumerSettings:
    """Read and validated once per execution environment (cold start)."""
    return consumer_settings(os.environ)


@functools.cache
def submission() -> Submission:
    config = settings()
    ecs = Ecs(cached_client("ecs"), config.ecs.cluster) if config.ecs else None
    stepfunctions = StepFunctions(cached_client("stepfunctions")) if config.state_machine_arn else None
    runs = Runs(cached_client("dynamodb"), config.workflow_table, ttl_days=config.run_ttl_days)
    return Submission(config, runs, ecs, stepfunctions)


@functools.cache
def idempotency() -> tuple[IdempotencyConfig, Callable[..., dict[str, Any]]]:
    """The idempotency config (gets each invocation's context) and the idempotent submit function."""
    config = IdempotencyConfig(
        event_key_jmespath="job_id",
        raise_on_no_idempotency_key=True,
        expires_after_seconds=IDEMPOTENCY_EXPIRY_SECONDS,
        response_hook=_replayed,
    )
    persistence = DynamoDBPersistenceLayer(
        table_name=settings().idempotency_table,
        key_attr="idempotency_key",
        expiry_attr="expiration",
        boto3_client=cached_client("dynamodb"),
    )
    submit = idempotent_function(
        _submit,
        data_keyword_argument="request",
        persistence_store=persistence,
        config=config,
        key_prefix=IDEMPOTENCY_KEY_PREFIX,
    )
    return config, submit


@metrics.log_metrics(raise_on_empty_metrics=False)
@tracer.capture_lambda_handler
@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    config = settings()  # a configuration error fails the invocation: the whole batch is retried
    logger.append_keys(launch_mode=config.launch_mode)
    idempotency()[0].register_lambda_context(context)
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)


@tracer.capture_method
def record_handler(record: SQSRecord) -> dict[str, Any]:
    where = {
        "message_id": record.message_id,
        "message_group_id": record.attributes.message_group_id,
        "receive_count": record.attributes.approximate_receive_count,
    }
    try:
        request = parse_request(
            record.body, message_id=record.message_id, attributes=record.raw_event.get("messageAttributes") or {}
        )
    except InvalidRequest as exc:
        logger.error(f"rejected backtest request: {exc}", extra={**where, "field": exc.field})
        metrics.add_metric(METRIC_INVALID_REQUEST, MetricUnit.Count, 1)
        raise
    logger.append_keys(run_id=request.run_id, trace_id=request.trace_id)
    try:
        logger.info("backtest request received", extra={**where, "strategy": request.strategy})
        return idempotency()[1](request=request)
    finally:
        logger.remove_keys(["run_id", "trace_id"])


def _submit(request: BacktestRequest) -> dict[str, Any]:
    return submission().submit(request)


def _replayed(response: Any, idempotent_data: DataRecord) -> Any:
    """A job_id processed before (idempotency record): its first result is returned, nothing is launched."""
    logger.info(
        "duplicate backtest request: job_id already processed; not launched again", extra={"first_result": response}
    )
    return {**response, "duplicate": True} if isinstance(response, dict) else response
