"""A poison message reaches the dead-letter queue after maxReceiveCount (3) receives, never dropped.

A real moto FIFO queue with the spec's redrive policy (6.1, 6.2) stands in for the queue; the test
plays the event source mapping: receive a batch, invoke the consumer, delete what succeeded, leave
the batch item failures in the queue (visible again at once: VisibilityTimeout=0 instead of 900 s).
moto moves a message to the DLQ on the receive that follows its maxReceiveCount-th receive, as SQS does.
"""

from __future__ import annotations

import json

from backtest import consumer

from .backtest_fixtures import (REGION, Context, backtest_env, backtest_tables,  # noqa: F401
                                cold_start, ecs_tasks_stay_running, request_body)

MAX_RECEIVE_COUNT = 3


def lambda_record(message: dict, queue_arn: str) -> dict:
    """An SQS ReceiveMessage message in the shape the Lambda event source mapping delivers it."""
    return {
        "messageId": message["MessageId"], "receiptHandle": message["ReceiptHandle"], "body": message["Body"],
        "attributes": message["Attributes"],
        "messageAttributes": {name: {"stringValue": value.get("StringValue"), "stringListValues": [],
                                     "binaryListValues": [], "dataType": value["DataType"]}
                              for name, value in message.get("MessageAttributes", {}).items()},
        "md5OfBody": message["MD5OfBody"], "eventSource": "aws:sqs", "eventSourceARN": queue_arn,
        "awsRegion": REGION,
    }


def test_poison_message_is_reported_three_times_then_lands_in_the_dlq(backtest_env):
    sqs = backtest_env.client("sqs")
    dlq_url = sqs.create_queue(QueueName="tradai-backtest-dlq.fifo", Attributes={
        "FifoQueue": "true", "MessageRetentionPeriod": "1209600"})["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(QueueName="tradai-backtest-queue.fifo", Attributes={
        "FifoQueue": "true", "ContentBasedDeduplication": "true", "VisibilityTimeout": "900",
        "MessageRetentionPeriod": "345600",
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MAX_RECEIVE_COUNT}),
    })["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    poison = '{"job_id": "8a3c5d0e-1f2b-4c6d-9e8f-0a1b2c3d4e5f", "strategy": "PascalStrategy", "pairs": "BTC/USDT"'
    sqs.send_message(QueueUrl=queue_url, MessageBody=poison, MessageGroupId="user-7",
                     MessageAttributes={"trace_id": {"DataType": "String", "StringValue": "trace-poison"}})
    valid = request_body()
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(valid), MessageGroupId="user-8")

    for receive in range(1, MAX_RECEIVE_COUNT + 1):
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0,
                                       AttributeNames=["All"], MessageAttributeNames=["All"])["Messages"]
        records = [lambda_record(message, queue_arn) for message in messages]
        response = consumer.handler({"Records": records}, Context())
        failed = {item["itemIdentifier"] for item in response["batchItemFailures"]}
        for message in messages:  # the event source mapping deletes what succeeded
            if message["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        [poisoned] = [m for m in messages if m["Body"] == poison]
        assert poisoned["MessageId"] in failed
        assert poisoned["Attributes"]["ApproximateReceiveCount"] == str(receive)
        assert len(messages) == (2 if receive == 1 else 1)  # the valid message went through the first time

    assert sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages") is None
    [dead] = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                 AttributeNames=["All"])["Messages"]
    assert dead["Body"] == poison
    assert dead["MessageAttributes"]["trace_id"]["StringValue"] == "trace-poison"
    assert backtest_env.run(valid["job_id"])["status"] == "RUNNING"
    assert len(backtest_env.tasks()) == 1
