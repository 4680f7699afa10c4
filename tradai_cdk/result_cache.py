"""Validation results kept between synths, one JSON file per key, under the repository's ignored ``.cache/``.

A key is a hash of everything the result depends on (the template's bytes, the validator's version, ...), so a
result is reused only for identical inputs. ``VALIDATION_RESULT_CACHE=0`` turns reuse off for every validator.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

CACHE_ROOT = Path(__file__).resolve().parents[1] / ".cache"
SWITCH = "VALIDATION_RESULT_CACHE"


def enabled() -> bool:
    return os.environ.get(SWITCH, "1") not in ("0", "false", "off")


def cache_key(*parts: bytes) -> str:
    """One key for all of ``parts`` (each hashed apart, so no two part lists collide by concatenation)."""
    key = hashlib.sha256()
    for part in parts:
        key.update(hashlib.sha256(part).digest())
    return key.hexdigest()


class ResultCache:
    """JSON results by key under ``directory``; with no directory nothing is kept or reused."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory

    def load(self, key: str) -> Any | None:
        if self.directory is None or not (path := self.directory / f"{key}.json").exists():
            return None
        return json.loads(path.read_text())

    def store(self, key: str, value: Any) -> None:
        if self.directory is None:
            return
        path = self.directory / f"{key}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        staging = path.with_suffix(f".{os.getpid()}.tmp")
        staging.write_text(json.dumps(value))
        staging.replace(path)  # atomic: a concurrent synth reads the whole result or none
