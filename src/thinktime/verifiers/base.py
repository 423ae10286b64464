"""The verifier protocol and registry.

A verifier scores candidate solutions of one question in [0, 1] (higher = more likely correct).
It is passed into the strategies that need one (`best_of_n`), never looked up globally, and it
spends compute through the ledger so its tokens land on the bill as `verifier_tokens`.

    >>> sorted(VERIFIERS)
    ['gold', 'judge', 'prm', 'program']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Protocol

from thinktime.errors import ThinktimeError

if TYPE_CHECKING:
    from thinktime.compute.bill import Ledger


class Verifier(Protocol):
    name: str

    def score(
        self, question: str, candidates: Sequence[str], ledger: Ledger, partial: bool = False
    ) -> list[float]:
        """One score in [0, 1] per candidate solution text, in order.

        `partial=True` marks unfinished solutions (step-level search scores each prefix).
        """
        ...


VerifierFactory = Callable[..., Verifier]
VERIFIERS: dict[str, VerifierFactory] = {}


def register_verifier(name: str) -> Callable[[VerifierFactory], VerifierFactory]:
    def wrap(factory: VerifierFactory) -> VerifierFactory:
        VERIFIERS[name] = factory
        return factory

    return wrap


def make_verifier(name: str, **options: object) -> Verifier:
    """Build a registered verifier by name."""
    if name not in VERIFIERS:
        raise ThinktimeError(f"unknown verifier {name!r}; choose one of: {', '.join(VERIFIERS)}")
    return VERIFIERS[name](**options)


# built-in verifiers register on import
from thinktime.verifiers import gold as _gold  # noqa: E402, F401
from thinktime.verifiers import judge as _judge  # noqa: E402, F401
from thinktime.verifiers import prm as _prm  # noqa: E402, F401
from thinktime.verifiers import program as _program  # noqa: E402, F401
