"""Construct ids from lower-case, dash-separated keys."""


def pascal(name: str) -> str:
    """``dry-run-trading`` -> ``DryRunTrading``."""
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))
