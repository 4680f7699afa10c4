"""The handler's settings, read from the environment and validated once per cold start."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import NoReturn

from . import contract

ROUTE_TABLE_ID = re.compile(r"^rtb-[0-9a-f]{8,17}$")
ALLOCATION_ID = re.compile(r"^eipalloc-[0-9a-f]{8,17}$")


class ConfigurationError(ValueError):
    """An environment variable is missing or invalid; the message names it, its value and what is allowed."""


@dataclass(frozen=True)
class Settings:
    route_table_ids: tuple[str, ...]
    group_name: str
    hook_name: str
    eip_allocation_id: str
    ready_timeout_seconds: int
    poll_interval_seconds: int


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Parse and validate the environment; raise ConfigurationError naming the first bad variable."""
    tables = tuple(
        dict.fromkeys(p.strip() for p in environ.get(contract.ENV_ROUTE_TABLE_IDS, "").split(",") if p.strip())
    )
    if not tables or not all(ROUTE_TABLE_ID.match(t) for t in tables):
        _invalid(environ, contract.ENV_ROUTE_TABLE_IDS, "comma-separated route table ids (rtb-...)")
    allocation = environ.get(contract.ENV_EIP_ALLOCATION_ID, "").strip()
    if not ALLOCATION_ID.match(allocation):
        _invalid(environ, contract.ENV_EIP_ALLOCATION_ID, "an Elastic IP allocation id (eipalloc-...)")
    return Settings(
        route_table_ids=tables,
        group_name=_required(environ, contract.ENV_GROUP_NAME),
        hook_name=_required(environ, contract.ENV_HOOK_NAME),
        eip_allocation_id=allocation,
        ready_timeout_seconds=_positive_int(environ, contract.ENV_READY_TIMEOUT),
        poll_interval_seconds=_positive_int(environ, contract.ENV_POLL_INTERVAL),
    )


def _required(environ: Mapping[str, str], name: str) -> str:
    value = environ.get(name, "").strip()
    if not value:
        _invalid(environ, name, "a non-empty name")
    return value


def _positive_int(environ: Mapping[str, str], name: str) -> int:
    raw = environ.get(name, "").strip()
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1:
        _invalid(environ, name, "a positive whole number of seconds")
    return int(raw)


def _invalid(environ: Mapping[str, str], name: str, allowed: str) -> NoReturn:
    raise ConfigurationError(f"configuration error: {name}={environ.get(name)!r}; allowed: {allowed}")
