"""`self_consistency`: sample n reasoning paths, return the majority answer.

All n samples are one engine request, so they share the prompt's prefill and decode together.
With `sampler=STRATEGY` each candidate is made by another strategy instead (e.g. votes over
budget-forced samples), n runs at once so the engine still batches them.
Answers vote by equivalence class (see `voting`); the vote table is kept on the result, and the
shown reasoning is the first sample that reached the winning answer. `weight=confidence` weighs
each vote by the trace's token confidence (DeepConf, see `weighting`).

Reference: Wang et al. 2023, "Self-Consistency Improves Chain of Thought Reasoning in Language
Models", arXiv:2203.11171.

    >>> from thinktime.backends.fake import FakeBackend
    >>> from thinktime import solve
    >>> fake = FakeBackend(["\\\\boxed{26}", "\\\\boxed{24}", "so \\\\boxed{26.0}"])
    >>> r = solve("apples?", backend=fake, strategy="self_consistency", n=3)
    >>> r.answer, r.votes
    ('26', {'26': 2.0, '24': 1.0})
"""

from __future__ import annotations

from pydantic import Field

from thinktime.strategies.base import (
    Context,
    Outcome,
    draw_total,
    draw_width,
    plain_pool,
    register_strategy,
)
from thinktime.strategies.sampler import SamplerParams
from thinktime.strategies.weighting import WeightParams, confident, weighted


class SelfConsistencyParams(SamplerParams, WeightParams):
    n: int = Field(5, ge=1, le=1024, description="Reasoning paths to sample.")


@register_strategy(
    "self_consistency",
    "Sample n reasoning paths in one batch; majority vote over equivalent answers.",
    "Wang et al. 2023, arXiv:2203.11171",
    SelfConsistencyParams,
    samples=lambda p: draw_width(p.n, p.sampler, p.inner_params),
    drawn=lambda p: draw_total(p.n, p.sampler, p.inner_params),
    pool=lambda p: plain_pool(p.n, p.sampler, p.sampler_params),
    tokens=lambda p: (1.0, float(p.n)),  # n samples share one prefill
)
def self_consistency(question: str, ctx: Context, params: SelfConsistencyParams) -> Outcome:
    samples = confident(ctx, params).draw(question, params.n, params.sampler, params.inner_params)
    return weighted(samples, params)
