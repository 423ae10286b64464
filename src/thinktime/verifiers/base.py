"""The verifier protocol and registry.

A verifier scores candidate solutions of one question in [0, 1] (higher = more likely correct).
It is passed into the strategies that need one (`best_of_n`), never looked up globally, and it
spends compute through the ledger so its tokens land on the bill as `verifier_tokens`.

    >>> sorted(VERIFIERS)
    ['gold', 'judge', 'prm', 'program', 'self_certainty']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol, runtime_checkable

from thinktime.compute.ledger import Ledger
from thinktime.registry import Registry
from thinktime.types import Sample


class Verifier(Protocol):
    name: str

    def score(
        self, question: str, candidates: Sequence[str], ledger: Ledger, partial: bool = False
    ) -> list[float]:
        """One score in [0, 1] per candidate solution text, in order.

        `partial=True` marks unfinished solutions (step-level search scores each prefix).
        """
        ...


@runtime_checkable
class ScoresSamples(Protocol):
    """A verifier that reads what the engine returned with each sample (its logprobs), so the
    strategy draws with `top_logprobs` and hands it the samples, not their texts."""

    top_logprobs: int

    def score_samples(self, samples: Sequence[Sample]) -> list[float]: ...


VerifierFactory = Callable[..., Verifier]
VERIFIERS: Registry[VerifierFactory] = Registry(
    "verifier",
    {
        name: f"thinktime.verifiers.{name}"
        for name in ("gold", "judge", "prm", "program", "self_certainty")
    },
)


# the verifiers that run model-written code (in the sandbox): their factories take `unsafe_exec`
RUNS_CODE: set[str] = set()


def register_verifier(
    name: str, *, runs_code: bool = False
) -> Callable[[VerifierFactory], VerifierFactory]:
    """Decorator: make `factory(**options)` available as verifier `name`; `runs_code` declares
    that it runs model-written code, so its factory also takes `unsafe_exec` (the operator's
    choice to run that code with process limits alone where kernel isolation is missing)."""
    if runs_code:
        RUNS_CODE.add(name)
    return VERIFIERS.register(name)


def make_verifier(name: str, *, unsafe_exec: bool = False, **options: object) -> Verifier:
    """Build a registered verifier by name; `unsafe_exec` reaches the ones that run code.

    >>> make_verifier("program", unsafe_exec=True).unsafe_exec
    True
    >>> make_verifier("judge", unsafe_exec=True).name  # runs no code: nothing to allow
    'judge'
    """
    factory = VERIFIERS.get_or_fail(name)
    if name in RUNS_CODE:
        options["unsafe_exec"] = unsafe_exec
    return factory(**options)
