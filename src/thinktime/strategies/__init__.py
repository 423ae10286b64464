"""Test-time-compute strategies, registered by name. Importing this package registers the built-ins.

>>> "self_consistency" in STRATEGIES and "budget_forcing" in STRATEGIES
True
"""

from thinktime.strategies import (  # noqa: F401  (importing registers them)
    adaptive_consistency,
    beam_search,
    best_of_n,
    budget_forcing,
    cot,
    direct,
    dvts,
    route,
    self_consistency,
    verify_revise,
)
from thinktime.strategies.base import (
    STRATEGIES,
    Context,
    Outcome,
    StrategySpec,
    get_strategy,
    register_strategy,
)

__all__ = ["STRATEGIES", "Context", "Outcome", "StrategySpec", "get_strategy", "register_strategy"]
