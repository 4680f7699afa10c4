"""Compute stack of a stage."""

from __future__ import annotations

from .base import TradaiStack


class ComputeStack(TradaiStack):
    """Filled by its tier's issue."""
