"""`cot`: one chain-of-thought sample — think step by step, then answer in \\boxed{}.

Reference: Wei et al. 2022, "Chain-of-Thought Prompting Elicits Reasoning in Large Language
Models", arXiv:2201.11903.

    >>> from thinktime import solve
    >>> question = "A farmer has 3 baskets of 12 apples and sells 10. How many are left?"
    >>> solve(question).answer  # doctest: +SKIP
    '26'
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from thinktime.strategies.base import Context, Outcome, majority, register_strategy


class CotParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


@register_strategy(
    "cot",
    "One step-by-step reasoning sample.",
    "Wei et al. 2022, arXiv:2201.11903",
    CotParams,
    default_temperature=0.0,
    streams=True,
    tokens=lambda p: (1.0, 1.0),
)
def cot(question: str, ctx: Context, params: CotParams) -> Outcome:
    [[sample]] = ctx.sample([ctx.messages(question)])
    return majority([sample])
