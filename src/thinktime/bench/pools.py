"""Curves from one pool of N samples per question: pass@k, maj@k and BoN@k for every k ≤ N.

- pass@k — the unbiased estimator of Chen et al. 2021 (Codex, arXiv:2107.03374):
  1 − C(N−c, k) / C(N, k) for c correct samples among N.
- maj@k — the chance that a majority vote over k samples drawn without replacement from the pool
  is correct, averaged over `trials` random subsets (all subsets when there are few).
- BoN@k — the same with the best-scored sample of each subset.

    >>> pass_at_k(n=4, c=1, k=1), pass_at_k(n=4, c=1, k=4)
    (0.25, 1.0)
    >>> maj_at_k(["1", "1", "2"], [True, True, False], k=3)
    1.0
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence
from math import comb

from thinktime.answers.voting import vote


def pass_at_k(n: int, c: int, k: int) -> float:
    if n - c < k:
        return 1.0
    return 1.0 - comb(n - c, k) / comb(n, k)


def _subsets(n: int, k: int, trials: int, seed: int) -> list[tuple[int, ...]]:
    if comb(n, k) <= trials:
        return list(itertools.combinations(range(n), k))
    rng = random.Random(seed)
    return [tuple(sorted(rng.sample(range(n), k))) for _ in range(trials)]


def maj_at_k(
    answers: Sequence[str | None], correct: Sequence[bool], k: int, trials: int = 200, seed: int = 0
) -> float:
    """Mean correctness of the majority answer of k-subsets (ties → first in pool order)."""
    hits = 0.0
    subsets = _subsets(len(answers), k, trials, seed)
    for subset in subsets:
        winner, _ = vote([answers[i] for i in subset])
        hits += next((correct[i] for i in subset if answers[i] == winner), False)
    return hits / len(subsets)


def bon_at_k(
    scores: Sequence[float], correct: Sequence[bool], k: int, trials: int = 200, seed: int = 0
) -> float:
    """Mean correctness of the best-scored sample of k-subsets (ties → first in pool order)."""
    subsets = _subsets(len(scores), k, trials, seed)
    return sum(correct[max(s, key=lambda i: scores[i])] for s in subsets) / len(subsets)
