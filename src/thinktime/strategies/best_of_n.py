"""`best_of_n`: sample n solutions, let a verifier score each, return the best-scored one.

The verifier is passed in (`solve(..., verifier=...)`, default: the model-as-judge);
`verifier="self_certainty"` scores each sample by its own token distributions instead, at no
extra call (Kang et al. 2025, arXiv:2502.18581; see `verifiers.self_certainty`). All n samples
are one batched request, and the verifier's n judge prompts are one batched request too.
`mode="weighted"` sums the scores of equivalent answers and returns the heaviest answer (as in
search-and-learn); `sampler=STRATEGY` makes each candidate with another strategy.

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
from typing import Literal

from pydantic import Field

from thinktime.answers.voting import vote
from thinktime.errors import ThinktimeError
from thinktime.strategies.base import (
    Context,
    Outcome,
    draw_total,
    draw_width,
    plain_pool,
    register_strategy,
)
from thinktime.strategies.sampler import SamplerParams
from thinktime.verifiers.base import ScoresSamples


class BestOfNParams(SamplerParams):
    n: int = Field(4, ge=1, le=1024, description="Candidate solutions to sample and score.")
    mode: Literal["argmax", "weighted"] = Field(
        "argmax", description="argmax: best-scored sample; weighted: answer with most total score."
    )


@register_strategy(
    "best_of_n",
    "Sample n solutions; a verifier scores each; return the argmax.",
    "Cobbe et al. 2021, arXiv:2110.14168",
    BestOfNParams,
    samples=lambda p: draw_width(p.n, p.sampler, p.inner_params),
    drawn=lambda p: draw_total(p.n, p.sampler, p.inner_params),
    pool=lambda p: plain_pool(p.n, p.sampler, p.sampler_params),
    uses_verifier=True,
    tokens=lambda p: (1.0 + p.n, float(p.n)),  # + one judge prompt per candidate
)
def best_of_n(question: str, ctx: Context, params: BestOfNParams) -> Outcome:
    if ctx.verifier is None:
        raise ThinktimeError("best_of_n needs a verifier; pass verifier='judge' or a Verifier")
    verifier = ctx.verifier
    if isinstance(verifier, ScoresSamples):  # it reads each sample's logprobs (self-certainty)
        drawer = replace(ctx, params=ctx.params.with_(top_logprobs=verifier.top_logprobs))
        samples = drawer.draw(question, params.n, params.sampler, params.inner_params)
        scores = verifier.score_samples(samples)
    else:
        samples = ctx.draw(question, params.n, params.sampler, params.inner_params)
        scores = verifier.score(question, [s.text for s in samples], ctx.ledger)
    scored = tuple(replace(s, score=x) for s, x in zip(samples, scores, strict=True))
    answers = [s.answer for s in scored]
    if params.mode == "weighted":
        # sum the scores of each class of equivalent answers (search-and-learn's weighted BoN)
        winner, table = vote(answers, weights=scores)
        chosen = max(
            (i for i, s in enumerate(scored) if s.answer == winner), key=lambda i: scores[i],
            default=None,
        )  # fmt: skip
    else:
        # argmax over candidates that have an answer; ties go to the earliest sample
        answered = [i for i, s in enumerate(scored) if s.answer is not None] or list(
            range(len(scored))
        )
        chosen = max(answered, key=lambda i: scores[i]) if answered else None
        _, table = vote(answers)
    return Outcome(
        answer=None if chosen is None else scored[chosen].answer,
        samples=scored,
        votes=table,
        chosen=chosen,
        details={"scores": list(scores), "verifier": verifier.name},
    )
