"""`adaptive_consistency`: self-consistency that stops sampling once the vote is settled.

1) draw a batch of samples (one batched request, shared prefill);
2) vote; ask the stopping rule (`beta` posterior or `window` agreement, see `stopping`) whether
   more samples could still change the winner;
3) stop if settled, at `max_n`, or when the budget runs out; else go to 1.
Easy questions stop after one batch; contested ones use up to `max_n`. With
`weight=confidence` the final vote is weighted by confidence (`weighting`); the stopping rule
still counts answers.
`details["samples_used"]` records how many were drawn.

Reference: Aggarwal et al. 2023, "Let's Sample Step by Step: Adaptive-Consistency for Efficient
Reasoning and Coding with LLMs", arXiv:2305.11860; Li et al. 2024 (ESC), arXiv:2401.10480.

    >>> from thinktime.backends.fake import FakeBackend
    >>> from thinktime import solve
    >>> r = solve("2+2?", backend=FakeBackend(["\\\\boxed{4}"]), strategy="adaptive_consistency")
    >>> r.answer, r.details["samples_used"]
    ('4', 4)
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from thinktime.answers.voting import vote
from thinktime.strategies.base import Context, Outcome, register_strategy
from thinktime.strategies.stopping import beta_stop, window_stop
from thinktime.strategies.weighting import WeightParams, confident, weighted
from thinktime.types import Sample


class AdaptiveParams(WeightParams):
    max_n: int = Field(16, ge=1, le=1024, description="Most samples to draw.")
    batch: int = Field(4, ge=1, le=256, description="Samples drawn per round (one request).")
    rule: Literal["beta", "window"] = Field("beta", description="Stopping rule.")
    threshold: float = Field(0.95, gt=0.5, lt=1.0, description="beta: posterior to stop at.")
    window: int = Field(4, ge=2, le=64, description="window: agreeing answers to stop at.")


def settled(samples: list[Sample], params: AdaptiveParams) -> bool:
    answers = [s.answer for s in samples]
    if params.rule == "window":
        return window_stop(answers, params.window)
    _, table = vote(answers)
    return beta_stop(list(table.values()), params.threshold)


@register_strategy(
    "adaptive_consistency",
    "Self-consistency that samples in batches and stops once the vote is settled.",
    "Aggarwal et al. 2023, arXiv:2305.11860",
    AdaptiveParams,
    samples=lambda p: min(p.batch, p.max_n),  # one batch at a time
    drawn=lambda p: p.max_n,
    tokens=lambda p: (1.0, p.max_n / 2),  # stops early; measure it with thinktime bench
    facts=("samples_used",),
)
def adaptive_consistency(question: str, ctx: Context, params: AdaptiveParams) -> Outcome:
    samples: list[Sample] = []
    rounds = 0
    drawer = confident(ctx, params)  # top-k logprobs when votes are weighted
    while len(samples) < params.max_n and not ctx.exhausted():
        take = min(params.batch, params.max_n - len(samples))
        [batch] = drawer.sample([ctx.messages(question)], n=take)
        samples.extend(batch)
        rounds += 1
        if settled(samples, params):
            break
    return weighted(samples, params, {"samples_used": len(samples), "batches": rounds})
