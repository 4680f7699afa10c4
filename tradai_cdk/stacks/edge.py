"""Edge stack of a stage."""

from __future__ import annotations

from .base import TradaiStack


class EdgeStack(TradaiStack):
    """Filled by its tier's issue."""
