"""Model-as-judge outcome verifier: the model reads a candidate solution and says if it is right.

Each candidate becomes one judge prompt; all of them go to the engine as one batch. The score is
P("yes") / (P("yes") + P("no")) from the first answer token's logprobs when the backend returns
them (Zheng et al. 2023, "Judging LLM-as-a-Judge"; the "generative verifier" of Zhang et al. 2024),
else 1.0 / 0.0 / 0.5 from the judge's text. For step-level search (`partial=True`) it grades the
steps so far instead — the model's self-evaluation of Xie et al. 2023, arXiv:2305.00633.

    >>> from thinktime.backends.fake import FakeBackend
    >>> from thinktime.compute.ledger import Ledger
    >>> judge = JudgeVerifier()
    >>> judge.score("2+2?", ["\\\\boxed{4}"], Ledger(FakeBackend(["yes"])))
    [1.0]
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from thinktime.backends.base import Backend
from thinktime.compute.ledger import Ledger
from thinktime.prompts import judge_messages, step_judge_messages
from thinktime.sampling import SamplingParams
from thinktime.types import Completion, Request
from thinktime.verifiers.base import register_verifier

_YES = ("yes", "correct", "true")
_NO = ("no", "incorrect", "wrong", "false")


def _label(token: str) -> str | None:
    word = token.strip().strip(".,:*'\"").lower()
    if word in _YES:
        return "yes"
    if word in _NO:
        return "no"
    return None


def judge_score(completion: Completion) -> float:
    """P(yes) from the first labelled token's alternatives, or the text's yes/no."""
    for token in completion.logprobs or ():
        mass = {"yes": 0.0, "no": 0.0}
        for text, logprob in (*token.top, (token.token, token.logprob)):
            label = _label(text)
            if label:
                mass[label] = max(mass[label], math.exp(logprob))
        if mass["yes"] + mass["no"] > 0:
            return mass["yes"] / (mass["yes"] + mass["no"])
    words = completion.text.strip().split()
    label = _label(words[0]) if words else None
    return {"yes": 1.0, "no": 0.0}.get(label or "", 0.5)


class JudgeVerifier:
    """Asks a model (the generating model's backend unless one is given) to grade each candidate."""

    name = "judge"

    def __init__(self, backend: Backend | None = None, max_tokens: int = 4) -> None:
        self.backend = backend
        self.params = SamplingParams(temperature=0.0, max_tokens=max_tokens, top_logprobs=5)

    def score(
        self, question: str, candidates: Sequence[str], ledger: Ledger, partial: bool = False
    ) -> list[float]:
        """P(correct) per candidate; with `partial`, P(every step so far is correct)."""
        prompt = step_judge_messages if partial else judge_messages
        requests = [Request(messages=prompt(question, c)) for c in candidates]
        generations = ledger.generate(requests, self.params, purpose="verify", backend=self.backend)
        return [judge_score(g.completions[0]) for g in generations]


@register_verifier("judge")
def _factory(**options: object) -> JudgeVerifier:
    return JudgeVerifier(**options)  # type: ignore[arg-type]
