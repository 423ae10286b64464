"""`direct`: answer at once, no reasoning — the zero-compute baseline every curve starts from.

Reference: Kojima et al. 2022, "Large Language Models are Zero-Shot Reasoners" (the no-CoT
baseline it compares against).

    >>> from thinktime import solve
    >>> solve("What is 2+3?", strategy="direct").answer  # doctest: +SKIP
    '5'
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from thinktime.prompts import direct_messages
from thinktime.strategies.base import Context, Outcome, majority, register_strategy


class DirectParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer_tokens: int = Field(32, ge=1, le=1024, description="Tokens allowed for the bare answer.")


@register_strategy(
    "direct",
    "Answer only, no reasoning: the baseline.",
    "Kojima et al. 2022, arXiv:2205.11916 (zero-shot baseline)",
    DirectParams,
    default_temperature=0.0,
    streams=True,
    tokens=lambda p: (1.0, 0.1),  # the answer alone: about a tenth of a reasoning sample
)
def direct(question: str, ctx: Context, params: DirectParams) -> Outcome:
    sampling = ctx.params.with_(max_tokens=min(ctx.params.max_tokens, params.answer_tokens))
    [[sample]] = ctx.sample([direct_messages(question)], params=sampling)
    return majority([sample])
