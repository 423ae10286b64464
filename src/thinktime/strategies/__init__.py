"""Test-time-compute strategies, registered by name; built-ins are imported on first use.

>>> "self_consistency" in STRATEGIES and "budget_forcing" in STRATEGIES
True
"""

from thinktime.strategies.base import (
    DEFAULT_STRATEGY,
    PLAIN,
    STRATEGIES,
    Context,
    Outcome,
    StrategySpec,
    get_strategy,
    register_strategy,
    strategies_that,
)

__all__ = [
    "DEFAULT_STRATEGY",
    "PLAIN",
    "STRATEGIES",
    "Context",
    "Outcome",
    "StrategySpec",
    "get_strategy",
    "register_strategy",
    "strategies_that",
]
