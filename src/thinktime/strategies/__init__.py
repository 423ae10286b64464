"""Test-time-compute strategies, registered by name. Importing this package registers the built-ins.

>>> sorted(STRATEGIES)
['best_of_n', 'cot', 'direct', 'self_consistency', 'verify_revise']
"""

from thinktime.strategies import best_of_n, cot, direct, self_consistency, verify_revise  # noqa: F401
from thinktime.strategies.base import (
    STRATEGIES,
    Context,
    Outcome,
    StrategySpec,
    get_strategy,
    register_strategy,
)

__all__ = ["STRATEGIES", "Context", "Outcome", "StrategySpec", "get_strategy", "register_strategy"]
