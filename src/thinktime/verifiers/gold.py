"""Graders: verifiers that know one problem's right answer — a gold answer, or a task's scorer.

A task carries one per problem (`Task.grader`), and everything that asks "is this right?" goes
through it: the bench's verdicts, distillation's trace filter and RL rewards. As verifiers they
score candidate solutions (the final answer is extracted from each); as graders they take an
answer already extracted.

>>> from thinktime.backends.fake import FakeBackend
>>> from thinktime.compute.ledger import Ledger
>>> GoldVerifier("18").score("?", ["so \\\\boxed{18.0}", "\\\\boxed{17}"], Ledger(FakeBackend()))
[1.0, 0.0]
>>> GoldVerifier("1000").grade("1,000"), GoldVerifier("18").grade(None)
(1.0, 0.0)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from thinktime.answers.equivalence import equivalent
from thinktime.answers.extract import extract_answer
from thinktime.compute.ledger import Ledger
from thinktime.verifiers.base import Verifier, register_verifier


@runtime_checkable
class Grader(Verifier, Protocol):
    """A verifier for one problem that also grades a final answer on its own."""

    def grade(self, answer: str | None) -> float:
        """1.0 when `answer` (already extracted; None when there was none) is right, else less."""
        ...


class GoldVerifier:
    """1.0 when a candidate's final answer is equivalent to the gold answer, else 0.0."""

    name = "gold"

    def __init__(self, gold: str) -> None:
        self.gold = gold

    def grade(self, answer: str | None) -> float:
        return 1.0 if equivalent(answer, self.gold) else 0.0

    def score(
        self, question: str, candidates: Sequence[str], ledger: Ledger, partial: bool = False
    ) -> list[float]:
        return [self.grade(extract_answer(c)) for c in candidates]


class ScorerVerifier:
    """Scores with a task's own scorer, e.g. reasoning-gym's `score_answer(answer, entry)`.

    reasoning-gym gives partial credit; `exact=True` (the default) counts only 1.0 as correct.
    No answer scores 0.0 without asking the scorer.

        >>> ScorerVerifier(lambda answer: 0.5).grade("3"), ScorerVerifier(len).grade(None)
        (0.0, 0.0)
    """

    name = "task"

    def __init__(self, scorer: Callable[[str], float], exact: bool = True) -> None:
        self.scorer = scorer
        self.exact = exact

    @classmethod
    def reasoning_gym(
        cls, dataset: Any, entry: dict[str, Any], exact: bool = True
    ) -> ScorerVerifier:
        return cls(lambda answer: float(dataset.score_answer(answer, entry)), exact)

    def grade(self, answer: str | None) -> float:
        if answer is None:
            return 0.0
        score = float(self.scorer(answer))
        return float(score >= 1.0) if self.exact else score

    def score(
        self, question: str, candidates: Sequence[str], ledger: Ledger, partial: bool = False
    ) -> list[float]:
        return [self.grade(extract_answer(c)) for c in candidates]


@register_verifier("gold")
def _factory(gold: str) -> GoldVerifier:
    return GoldVerifier(gold)
