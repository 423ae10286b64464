"""`self_certainty`: score each candidate by how far from uniform its token distributions were.

Self-certainty (Kang et al. 2025, "Scalable Best-of-N Selection for Large Language Models via
Self-Certainty", arXiv:2502.18581) is the mean over a trace's tokens of KL(U ‖ p): a model that
was sure of each next token scores high. It needs no verifier model and no extra call — only
the top-k logprobs the engine returns with each token (`answers.confidence`), so `best_of_n`
draws its candidates with them when given this verifier. Scores are 1 − exp(−self-certainty),
in [0, 1) and in the same order.

    >>> from thinktime.backends.fake import FakeBackend
    >>> from thinktime import solve
    >>> sure = lambda token: 5.0 if "25" in token else 0.5
    >>> script = ["maybe \\\\boxed{24}", "\\\\boxed{25}"]
    >>> solve("5*5?", backend=FakeBackend(script, confidence=sure), strategy="best_of_n",
    ...       n=2, verifier="self_certainty").answer
    '25'
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from thinktime.compute.ledger import Ledger
from thinktime.errors import ThinktimeError
from thinktime.types import Sample
from thinktime.verifiers.base import register_verifier

TOP_LOGPROBS = 20  # k alternatives per token


class SelfCertaintyVerifier:
    """Scores samples from their own logprobs (`verifiers.base.ScoresSamples`)."""

    name = "self_certainty"
    top_logprobs = TOP_LOGPROBS

    def score_samples(self, samples: Sequence[Sample]) -> list[float]:
        """1 − exp(−self-certainty) of each sample (it must carry its confidence)."""
        if any(s.confidence is None for s in samples):
            raise ThinktimeError(
                "the self_certainty verifier needs each token's top-k logprobs and the backend "
                "returned none; use the llamacpp backend or a server that returns top_logprobs"
            )
        return [1.0 - math.exp(-max(0.0, s.confidence.self_certainty)) for s in samples]

    def score(
        self, question: str, candidates: Sequence[str], ledger: Ledger, partial: bool = False
    ) -> list[float]:
        raise ThinktimeError(
            "the self_certainty verifier scores samples from their logprobs, not bare texts; "
            "use it with best_of_n"
        )


@register_verifier("self_certainty")
def _factory(**options: object) -> SelfCertaintyVerifier:
    return SelfCertaintyVerifier()
