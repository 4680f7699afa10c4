"""Reading a function's environment: small validators shared by the handler families (stdlib only).

Each helper takes the environment mapping and a variable name and returns the parsed value, or raises
SettingsError naming the variable, the value it had and what is allowed. Handlers call them from a
``functools.cache``-d ``settings()`` so the environment is read and validated once per cold start.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from re import Pattern

Env = Mapping[str, str]

TABLE_NAME = r"[A-Za-z0-9_.-]{3,255}"
STATE_MACHINE_ARN = r"arn:aws[a-z-]*:states:[a-z0-9-]+:\d{12}:stateMachine:[A-Za-z0-9_-]{1,80}"
HTTP_ORIGIN = r"https?://[A-Za-z0-9.-]+(:\d{1,5})?"  # scheme, host and port of an http(s) URL (the path follows)
MAX_TTL_DAYS = 3650


class SettingsError(ValueError):
    """An environment variable is missing or invalid; the message names it, its value and what is allowed."""

    def __init__(self, name: str, value: str | None, allowed: str):
        super().__init__(f"configuration error: {name}={value!r}; allowed: {allowed}")
        self.name, self.value, self.allowed = name, value, allowed


def invalid(env: Env, name: str, allowed: str) -> SettingsError:
    """The error for ``name`` (raise it): its current value and what would have been accepted."""
    return SettingsError(name, env.get(name), allowed)


def required(env: Env, name: str, pattern: str | Pattern[str] | None = None, allowed: str = "a non-empty value") -> str:
    """The stripped, non-empty value; it must fully match ``pattern`` when one is given."""
    value = env.get(name, "").strip()
    if not value or (pattern is not None and not re.fullmatch(pattern, value)):
        raise invalid(env, name, allowed)
    return value


def optional(
    env: Env, name: str, default: str, pattern: str | Pattern[str] | None = None, allowed: str = "a non-empty value"
) -> str:
    """Like ``required``, but an unset or empty variable gives ``default``."""
    if not env.get(name, "").strip():
        return default
    return required(env, name, pattern, allowed)


def positive_int(env: Env, name: str, default: int | None = None, maximum: int | None = None, unit: str = "") -> int:
    """A whole number >= 1 (and <= ``maximum``); ``default`` when unset, else the variable is required."""
    raw = env.get(name, "").strip()
    if not raw and default is not None:
        return default
    bound = f" up to {maximum}" if maximum is not None else ""
    allowed = f"a positive whole number{' of ' + unit if unit else ''}{bound}"
    if not (raw.isascii() and raw.isdigit()) or int(raw) < 1 or (maximum is not None and int(raw) > maximum):
        raise invalid(env, name, allowed)
    return int(raw)


def one_of(env: Env, name: str, allowed: Iterable[str], default: str | None = None) -> str:
    """One of ``allowed`` (exact, case-sensitive); ``default`` when unset, else the variable is required."""
    choices = tuple(allowed)
    raw = env.get(name, "").strip()
    if not raw and default is not None:
        return default
    if raw not in choices:
        raise invalid(env, name, f"one of {', '.join(choices)}" + (f" (default {default})" if default else ""))
    return raw


def csv(
    env: Env,
    name: str,
    pattern: str | Pattern[str] | None = None,
    allowed: str = "a comma-separated list",
    max_items: int | None = None,
) -> tuple[str, ...]:
    """A non-empty comma-separated list (blanks dropped, duplicates removed, order kept); each item must match."""
    items = tuple(dict.fromkeys(part.strip() for part in env.get(name, "").split(",") if part.strip()))
    if (
        not items
        or (pattern is not None and not all(re.fullmatch(pattern, item) for item in items))
        or (max_items is not None and len(items) > max_items)
    ):
        bound = f", at most {max_items}" if max_items is not None else ""
        raise invalid(env, name, f"{allowed}{bound}")
    return items


SUBNET = r"subnet-[0-9a-f]{8,17}"
SECURITY_GROUP = r"sg-[0-9a-f]{8,17}"


def subnets(env: Env, name: str) -> tuple[str, ...]:
    """The subnets an awsvpc task runs in (an ECS RunTask allows at most 16)."""
    return csv(env, name, SUBNET, "comma-separated subnet ids (subnet-...)", max_items=16)


def security_groups(env: Env, name: str) -> tuple[str, ...]:
    """The security groups of an awsvpc task (an ECS RunTask allows at most 5)."""
    return csv(env, name, SECURITY_GROUP, "comma-separated security group ids (sg-...)", max_items=5)


def number(
    env: Env, name: str, default: float | None = None, minimum: float = 0.0, maximum: float | None = None
) -> float:
    """A decimal number in [minimum, maximum]; ``default`` when unset, else the variable is required."""
    raw = env.get(name, "").strip()
    if not raw and default is not None:
        return default
    bound = f" from {minimum:g}" + (f" to {maximum:g}" if maximum is not None else "")
    try:
        value = float(raw)
    except ValueError:
        raise invalid(env, name, f"a decimal number{bound}") from None
    if value != value or value < minimum or (maximum is not None and value > maximum):  # NaN is never allowed
        raise invalid(env, name, f"a decimal number{bound}")
    return value


def table_name(env: Env, name: str) -> str:
    """A DynamoDB table name."""
    return required(env, name, TABLE_NAME, "a DynamoDB table name")


def state_machine_arn(env: Env, name: str) -> str:
    """A Step Functions state machine ARN."""
    return required(
        env,
        name,
        STATE_MACHINE_ARN,
        "a Step Functions state machine ARN (arn:aws:states:<region>:<account>:stateMachine:<name>)",
    )


def ttl_days(env: Env, name: str) -> int:
    """How many days items live (expire_at/ttl), 1 to MAX_TTL_DAYS."""
    return positive_int(env, name, maximum=MAX_TTL_DAYS, unit="days")
