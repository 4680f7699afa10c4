"""Notices written with the state change that causes them, sent right after that write (an outbox).

A state item carries at most one pending notice (attribute contract.ATTR_PENDING_NOTICE: the Notice's
fields). The writer sends it after its write and then removes it. When sending fails (the invocation then
fails), the notice stays on the item and the next run sends it before deciding anything else, so no state
change loses its notice. shared.notify de-duplicates by notification_id: however often a notice is sent,
it is recorded once and alerted once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from shared.aws import error_code
from shared.ddb import marshal
from shared.notify import CONDITION_FAILED, Delivery, Notice, Notifier

from . import contract
from .observability import logger

PENDING = contract.ATTR_PENDING_NOTICE


@dataclass(frozen=True)
class Decision:
    """A state item to write and the notice its change causes, if any (stored in the item as pending)."""

    item: dict[str, Any]
    notice: Notice | None = None


def pending(notice: Notice) -> dict[str, Any]:
    """The item attribute that holds ``notice`` until it is sent."""
    return {
        "notification_id": notice.notification_id,
        "source": notice.source,
        "subject": notice.subject,
        "message": notice.message,
        "alert": notice.alert,
        "attributes": {key: value for key, value in notice.attributes.items() if value is not None},
    }


def pending_notice(item: dict[str, Any]) -> Notice | None:
    """The notice an item still carries; None when it has none (or an unreadable one, logged)."""
    stored = item.get(PENDING)
    if not stored:
        return None
    try:
        return Notice(
            stored["notification_id"],
            stored["source"],
            stored["subject"],
            stored["message"],
            bool(stored.get("alert", True)),
            dict(stored.get("attributes") or {}),
        )
    except (KeyError, TypeError) as exc:
        logger.error(
            "unreadable pending notice; left on the item",
            extra={"pending_notice": repr(stored)[:500], "error": repr(exc)},
        )
        return None


class Outbox:
    """Sends notices through shared.notify and removes them from the state item that carried them."""

    def __init__(self, notifier: Notifier, dynamodb: Any):
        self.notifier, self.dynamodb = notifier, dynamodb

    def flush(self, table: str, key: dict[str, Any], item: dict[str, Any]) -> Delivery | None:
        """Send the notice ``item`` still carries from an earlier run, if any."""
        notice = pending_notice(item)
        if notice is None:
            return None
        logger.warning(
            "sending a notice left pending by an earlier run", extra={"notification_id": notice.notification_id}
        )
        return self.send(table, key, notice)

    def send(self, table: str, key: dict[str, Any], notice: Notice) -> Delivery:
        """Send ``notice`` (recorded once, alerted once) and remove it from the item at ``key``."""
        delivery = self.notifier.send(notice)
        logger.info(
            "notice sent",
            extra={
                "notification_id": notice.notification_id,
                "alert": notice.alert,
                "published": delivery.published,
                "duplicate": delivery.duplicate,
            },
        )
        try:
            self.dynamodb.update_item(
                TableName=table,
                Key=marshal(key),
                UpdateExpression="REMOVE #pending",
                ConditionExpression="#pending.notification_id = :id",
                ExpressionAttributeNames={"#pending": PENDING},
                ExpressionAttributeValues=marshal({":id": notice.notification_id}),
            )
        except ClientError as exc:
            if error_code(exc) != CONDITION_FAILED:  # removed already, or a newer notice replaced it
                raise
        return delivery
