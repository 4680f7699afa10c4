"""A FIFO work queue that redrives to its own FIFO dead-letter queue; both SQS-encrypted and TLS-only."""

from __future__ import annotations

from typing import Any

import aws_cdk as cdk
from aws_cdk import aws_sqs as sqs
from constructs import Construct


class FifoWorkQueue(Construct):
    """``queue`` moves a message to ``dead_letter_queue`` after ``max_receive_count`` receives.
    Both names get the ``.fifo`` suffix SQS requires."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        queue_name: str,
        dead_letter_queue_name: str,
        content_based_deduplication: bool,
        visibility_timeout: cdk.Duration,
        receive_wait: cdk.Duration,
        retention_period: cdk.Duration,
        max_receive_count: int,
        dead_letter_retention: cdk.Duration,
    ):
        super().__init__(scope, construct_id)
        baseline: dict[str, Any] = dict(fifo=True, encryption=sqs.QueueEncryption.SQS_MANAGED, enforce_ssl=True)
        self.dead_letter_queue = sqs.Queue(
            self,
            "DeadLetterQueue",
            queue_name=f"{dead_letter_queue_name}.fifo",
            retention_period=dead_letter_retention,
            **baseline,
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=f"{queue_name}.fifo",
            content_based_deduplication=content_based_deduplication,
            visibility_timeout=visibility_timeout,
            receive_message_wait_time=receive_wait,
            retention_period=retention_period,
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dead_letter_queue, max_receive_count=max_receive_count),
            **baseline,
        )
