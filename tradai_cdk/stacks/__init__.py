"""The four stacks of a stage (spec diagram: persistent, foundation, compute, edge)."""

from .compute import ComputeStack
from .edge import EdgeStack
from .foundation import FoundationStack
from .persistent import PersistentStack

__all__ = ["ComputeStack", "EdgeStack", "FoundationStack", "PersistentStack"]
