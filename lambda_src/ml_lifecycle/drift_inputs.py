"""Reading the strategy container's drift files from the results bucket (S3 GetObject).

Keys (contract.DRIFT_PREFIX): ``drift/<model>/v<version>/reference.json`` and ``drift/<model>/current.json``.
A missing object is None; S3 answers 404 NoSuchKey for it only when the role may list the bucket (else 403
AccessDenied, which propagates like every other error).
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from shared.aws import error_code

from . import contract

MAX_BYTES = 10 * 1024 * 1024
MISSING_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


def reference_key(model_name: str, version: str) -> str:
    return f"{contract.DRIFT_PREFIX}/{model_name}/v{version}/reference.json"


def current_key(model_name: str) -> str:
    return f"{contract.DRIFT_PREFIX}/{model_name}/current.json"


class DriftInputs:
    def __init__(self, s3: Any, bucket: str):
        self.s3, self.bucket = s3, bucket

    def read(self, key: str) -> Any | None:
        """The object's JSON; None when it does not exist; ValueError when it is not JSON or too large."""
        try:
            answer = self.s3.get_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if error_code(exc) in MISSING_CODES:
                return None
            raise
        with answer["Body"] as body:
            if answer.get("ContentLength", 0) > MAX_BYTES:
                raise ValueError(f"s3://{self.bucket}/{key}: {answer['ContentLength']} bytes, at most {MAX_BYTES}")
            raw = body.read(MAX_BYTES + 1)
        try:
            return json.loads(raw)
        except ValueError as exc:
            raise ValueError(f"s3://{self.bucket}/{key}: not JSON ({exc})") from None
