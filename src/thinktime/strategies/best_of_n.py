"""`best_of_n`: sample n solutions, let a verifier score each, return the best-scored one.

The verifier is passed in (`solve(..., verifier=...)`, default: the model-as-judge). All n samples
are one batched request, and the verifier's n judge prompts are one batched request too.

Reference: Cobbe et al. 2021, "Training Verifiers to Solve Math Word Problems", arXiv:2110.14168;
Lightman et al. 2023, "Let's Verify Step by Step", arXiv:2305.20050.

    >>> from thinktime.backends.fake import FakeBackend
    >>> from thinktime.verifiers.judge import JudgeVerifier
    >>> from thinktime import solve
    >>> script = ["\\\\boxed{24}", "\\\\boxed{26}", "no", "yes"]
    >>> solve("apples?", backend=FakeBackend(script), strategy="best_of_n", n=2).answer
    '26'
"""

from __future__ import annotations

from dataclasses import replace

from pydantic import BaseModel, ConfigDict, Field

from thinktime.errors import ThinktimeError
from thinktime.prompts import cot_messages
from thinktime.strategies.base import Context, Outcome, register_strategy
from thinktime.strategies.voting import vote


class BestOfNParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(4, ge=1, le=1024, description="Candidate solutions to sample and score.")


@register_strategy(
    "best_of_n",
    "Sample n solutions; a verifier scores each; return the argmax.",
    "Cobbe et al. 2021, arXiv:2110.14168",
    BestOfNParams,
)
def best_of_n(question: str, ctx: Context, params: BestOfNParams) -> Outcome:
    if ctx.verifier is None:
        raise ThinktimeError("best_of_n needs a verifier; pass verifier='judge' or a Verifier")
    [samples] = ctx.sample([cot_messages(question)], n=params.n)
    scores = ctx.verifier.score(question, [s.text for s in samples], ctx.ledger)
    scored = tuple(replace(s, score=x) for s, x in zip(samples, scores, strict=True))
    # argmax over candidates that have an answer; ties go to the earliest sample
    answered = [i for i, s in enumerate(scored) if s.answer is not None] or list(range(len(scored)))
    chosen = max(answered, key=lambda i: scores[i])
    _, table = vote([s.answer for s in scored])
    return Outcome(
        answer=scored[chosen].answer,
        samples=scored,
        votes=table,
        chosen=chosen,
        details={"scores": list(scores), "verifier": ctx.verifier.name},
    )
