"""`weight=confidence`: votes weighted by how sure the model was of each trace (DeepConf).

A strategy that votes (`self_consistency`, `adaptive_consistency`) takes these parameters. With
`weight="confidence"` its samples are drawn with top-k logprobs and each vote counts the
trace's confidence (`measure`, see `answers.confidence`) instead of 1. The paper's finding:
confidence-weighted majority matches or beats plain majority at equal samples.

Reference: Fu et al. 2025, "Deep Think with Confidence", arXiv:2508.15260 (§3.2).

    >>> WeightParams(weight="confidence").measure
    'lowest_group'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from thinktime.answers.confidence import Measure
from thinktime.errors import ThinktimeError
from thinktime.strategies.base import Context, Outcome, majority
from thinktime.types import Sample

TOP_LOGPROBS = 20  # k of the token confidence (the paper's)


class WeightParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    weight: Literal["none", "confidence"] = Field(
        "none", description="none: one vote each; confidence: votes weighted by confidence."
    )
    measure: Measure = Field("lowest_group", description="confidence: the trace summary used.")


def confident(ctx: Context, params: WeightParams) -> Context:
    """The context to draw with: asking for top-k logprobs when votes are weighted."""
    if params.weight == "none":
        return ctx
    return replace(ctx, params=ctx.params.with_(top_logprobs=TOP_LOGPROBS))


def weighted(
    samples: Sequence[Sample], params: WeightParams, details: dict[str, Any] | None = None
) -> Outcome:
    """The (weighted) majority of `samples` as an Outcome."""
    if params.weight == "none":
        return majority(samples, details)
    if any(s.confidence is None for s in samples):
        raise ThinktimeError(
            "weight=confidence needs each token's top-k logprobs and the backend returned "
            "none; use the llamacpp backend or a server that returns top_logprobs"
        )
    weights = [s.confidence.measure(params.measure) for s in samples]
    return majority(samples, {**(details or {}), "weight": params.measure}, weights)
