"""One CDK Stage per environment."""

from .tradai_stage import TradaiStage

__all__ = ["TradaiStage"]
