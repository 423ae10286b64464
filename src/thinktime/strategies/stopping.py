"""Stopping rules for adaptive voting: is the vote settled, given the counts so far?

`beta` (Adaptive-Consistency, Aggarwal et al. 2023, arXiv:2305.11860): with the top two answers
seen a and b times, the posterior of their share p ~ Beta(a+1, b+1); stop once
P(p > 1/2) ≥ threshold. For integer parameters that posterior tail is a binomial sum:
P(Beta(a+1, b+1) > 1/2) = P(Binomial(a+b+1, 1/2) ≤ a).

`window` (Early-Stopping Self-Consistency, Li et al. 2024, arXiv:2401.10480): stop once the last
`window` answers all agree.

    >>> beta_confidence(4, 0)     # four votes, no rival: 1 - 1/32
    0.96875
    >>> beta_stop([4], threshold=0.95), beta_stop([3], threshold=0.95)
    (True, False)
    >>> window_stop(["5", "6", "5", "5", "5"], window=3)
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from math import comb

from thinktime.answers.voting import classes


def beta_confidence(a: int, b: int) -> float:
    """P(p_top > p_second) under a uniform prior: P(Binomial(a+b+1, 1/2) ≤ a)."""
    trials = a + b + 1
    return sum(comb(trials, k) for k in range(a + 1)) / 2**trials


def beta_stop(counts: Sequence[float], threshold: float) -> bool:
    """Stop when the leading answer beats the runner-up with posterior ≥ threshold."""
    ranked = sorted(counts, reverse=True)
    if not ranked:
        return False
    top, second = int(ranked[0]), int(ranked[1]) if len(ranked) > 1 else 0
    return beta_confidence(top, second) >= threshold


def window_stop(answers: Sequence[str | None], window: int) -> bool:
    """Stop when the last `window` answers exist and are all equivalent."""
    if len(answers) < window:
        return False
    tail = answers[-window:]
    if any(a is None for a in tail):
        return False
    labels = classes(tail)
    return len(set(labels)) == 1
