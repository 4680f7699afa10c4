"""The one notification path of every TradAI function: record in tradai-notifications, alert once on SNS.

A ``Notice`` carries a caller-chosen ``notification_id``, the de-duplication key: the first ``send``
writes the item (conditional put), a repeat finds it and does not write again. When the notice is an
alert, the message goes to the alerts topic once: the item remembers ``alert_sent_at``, so a retry after
a failed publish sends it and a later repeat does not. Items expire through ``expire_at`` (spec 3.2).

Env (read by ``notifier_settings``): NOTIFICATIONS_TABLE, ALERTS_TOPIC_ARN. Handlers use ``notifier_from_env``,
created once per cold start.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from . import settings as env_
from .aws import cached_client
from .clock import iso
from .contract import ENV_ALERTS_TOPIC_ARN, ENV_NOTIFICATIONS_TABLE
from .ddb import (
    CONDITION_FAILED as CONDITION_FAILED,  # re-exported for the outbox and state tables
    marshal,
    put_if_absent,
)

TOPIC_ARN = r"arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}"
RETENTION_DAYS = 30
SUBJECT_MAX = 100  # SNS email subjects are limited to 100 characters
MESSAGE_MAX = 4000


@dataclass(frozen=True)
class NotifierSettings:
    notifications_table: str
    alerts_topic_arn: str


def notifier_settings(env: env_.Env) -> NotifierSettings:
    return NotifierSettings(
        env_.table_name(env, ENV_NOTIFICATIONS_TABLE),
        env_.required(env, ENV_ALERTS_TOPIC_ARN, TOPIC_ARN, "an SNS topic ARN (arn:aws:sns:...)"),
    )


@dataclass(frozen=True)
class Notice:
    """One notification. ``source`` names the sending function; ``alert`` publishes it to the topic."""

    notification_id: str
    source: str
    subject: str
    message: str
    alert: bool = True
    attributes: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Delivery:
    duplicate: bool  # the notification_id was recorded before this call
    published: bool  # this call published the alert
    message_id: str | None = None


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


class Notifier:
    """tradai-notifications plus the alerts topic, through low-level DynamoDB and SNS clients."""

    def __init__(self, dynamodb: Any, sns: Any, settings: NotifierSettings, retention_days: int = RETENTION_DAYS):
        self._dynamodb, self._sns, self._settings, self._retention = dynamodb, sns, settings, retention_days

    def send(self, notice: Notice, now: datetime | None = None) -> Delivery:
        now = now or datetime.now(UTC)
        subject, message = _clip(notice.subject, SUBJECT_MAX), _clip(notice.message, MESSAGE_MAX)
        item = {key: value for key, value in notice.attributes.items() if value is not None}
        item.update(
            notification_id=notice.notification_id,
            source=notice.source,
            subject=subject,
            message=message,
            alert=notice.alert,
            created_at=iso(now),
            expire_at=int((now + timedelta(days=self._retention)).timestamp()),
        )
        existing = self._record(item)
        if not notice.alert or (existing is not None and existing.get("alert_sent_at")):
            return Delivery(duplicate=existing is not None, published=False)
        message_id = self._sns.publish(TopicArn=self._settings.alerts_topic_arn, Subject=subject, Message=message)[
            "MessageId"
        ]
        self._dynamodb.update_item(
            TableName=self._settings.notifications_table,
            Key=marshal({"notification_id": notice.notification_id}),
            UpdateExpression="SET alert_sent_at = :at, alert_message_id = :id",
            ExpressionAttributeValues=marshal({":at": iso(datetime.now(UTC)), ":id": message_id}),
        )
        return Delivery(duplicate=existing is not None, published=True, message_id=message_id)

    def _record(self, item: dict[str, Any]) -> dict[str, Any] | None:
        """Put the item unless its notification_id exists; None when written, else the existing item."""
        return put_if_absent(
            self._dynamodb,
            self._settings.notifications_table,
            item,
            key={"notification_id": item["notification_id"]},
            key_attribute="notification_id",
        )


@functools.cache
def notifier_from_env() -> Notifier:
    """The Notifier of NOTIFICATIONS_TABLE and ALERTS_TOPIC_ARN, created once per cold start."""
    return Notifier(cached_client("dynamodb"), cached_client("sns"), notifier_settings(os.environ))
