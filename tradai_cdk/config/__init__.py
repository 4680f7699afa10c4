"""Configuration: one frozen ``TradaiConfig`` per environment (spec v9.3.0)."""

from .canonical import ENVIRONMENTS
from .loader import config_for
from .model import TradaiConfig
from .validation import ConfigError, require_image_tag, selected_environments, validate

__all__ = [
    "ENVIRONMENTS",
    "ConfigError",
    "TradaiConfig",
    "config_for",
    "require_image_tag",
    "selected_environments",
    "validate",
]
