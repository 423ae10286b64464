"""Test-time-compute strategies, registered by name; built-ins are imported on first use.

>>> "self_consistency" in STRATEGIES and "budget_forcing" in STRATEGIES
True
"""

from thinktime.strategies.base import (
    STRATEGIES,
    Context,
    Outcome,
    StrategySpec,
    get_strategy,
    register_strategy,
)

__all__ = ["STRATEGIES", "Context", "Outcome", "StrategySpec", "get_strategy", "register_strategy"]
