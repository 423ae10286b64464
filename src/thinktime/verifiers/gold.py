"""Task verifiers: a known gold answer, or a reasoning-gym scorer, for benchmarks and distillation.

>>> from thinktime.backends.fake import FakeBackend
>>> from thinktime.compute.ledger import Ledger
>>> GoldVerifier("18").score("?", ["so \\\\boxed{18.0}", "\\\\boxed{17}"], Ledger(FakeBackend()))
[1.0, 0.0]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from thinktime.answers.equivalence import equivalent
from thinktime.answers.extract import extract_answer
from thinktime.compute.ledger import Ledger
from thinktime.verifiers.base import register_verifier


class GoldVerifier:
    """1.0 when a candidate's final answer is equivalent to the gold answer, else 0.0."""

    name = "gold"

    def __init__(self, gold: str) -> None:
        self.gold = gold

    def score(
        self, question: str, candidates: Sequence[str], ledger: Ledger, partial: bool = False
    ) -> list[float]:
        return [1.0 if equivalent(extract_answer(c), self.gold) else 0.0 for c in candidates]


class ScorerVerifier:
    """Scores with a task's own scorer, e.g. reasoning-gym's `score_answer(answer, entry)`.

    reasoning-gym gives partial credit; `exact=True` (the default) counts only 1.0 as correct.
    """

    name = "task"

    def __init__(self, scorer: Callable[[str | None], float], exact: bool = True) -> None:
        self.scorer = scorer
        self.exact = exact

    @classmethod
    def reasoning_gym(
        cls, dataset: Any, entry: dict[str, Any], exact: bool = True
    ) -> ScorerVerifier:
        return cls(lambda answer: float(dataset.score_answer(answer, entry)), exact)

    def score(
        self, question: str, candidates: Sequence[str], ledger: Ledger, partial: bool = False
    ) -> list[float]:
        scores = [self.scorer(extract_answer(c)) for c in candidates]
        return [float(s >= 1.0) if self.exact else s for s in scores]


@register_verifier("gold")
def _factory(gold: str) -> GoldVerifier:
    return GoldVerifier(gold)
