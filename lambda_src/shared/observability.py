"""Structured JSON logging and CloudWatch Embedded Metric Format (EMF) output.

Both write one JSON object per line to stdout. The Lambda runtime forwards such lines to
CloudWatch Logs unchanged, and CloudWatch turns EMF lines into metrics, so publishing a
metric needs no `cloudwatch:PutMetricData` permission.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Mapping
from datetime import datetime, timezone

_RECORD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
}


class JsonFormatter(logging.Formatter):
    """Format a record as JSON: timestamp, level, logger, message, `extra=` fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        payload = {
            "timestamp": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update(
            (key, value) for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES
        )
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class _StdoutHandler(logging.StreamHandler):
    """Stream handler that writes to whatever `sys.stdout` is at emit time."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, _value) -> None:
        """Ignore the stream `StreamHandler.__init__` assigns."""


def get_logger(name: str) -> logging.Logger:
    """Return logger `name` emitting JSON lines to stdout at level env LOG_LEVEL (default INFO).

    The logger does not propagate: the Lambda runtime's root handler would prefix every
    line with plain text and break the one-JSON-object-per-line format.
    """
    logger = logging.getLogger(name)
    if not any(isinstance(handler, _StdoutHandler) for handler in logger.handlers):
        handler = _StdoutHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    level_name = os.environ.get("LOG_LEVEL", "INFO").strip().upper()
    logger.setLevel(logging.getLevelNamesMapping().get(level_name, logging.INFO))
    logger.propagate = False
    return logger


def emit_metric(
    namespace: str,
    name: str,
    value: float,
    unit: str = "Count",
    dimensions: Mapping[str, str] | None = None,
) -> None:
    """Print one EMF line publishing `name`=`value` in `namespace` with the given dimensions."""
    dimension_values = {key: str(val) for key, val in (dimensions or {}).items()}
    document = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [list(dimension_values)],
                    "Metrics": [{"Name": name, "Unit": unit}],
                }
            ],
        },
        **dimension_values,
        name: value,
    }
    print(json.dumps(document), flush=True)
