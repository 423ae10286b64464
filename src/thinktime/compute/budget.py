"""Budgets: a cap on what one answer may spend, in generated tokens, FLOPs, seconds or dollars.

Every strategy is *anytime*: it checks the budget between steps and, when it runs out, returns
the best answer so far, marked `budget_limited`. Within a step the ledger also shrinks each
call's `max_tokens` so the call cannot overrun the token (or FLOP) budget; with fewer tokens
left than the call's samples, only that many samples are drawn, one token each (the others come
back empty, the bill counts the samples drawn): no path spends past a token cap. Seconds and
dollars are checked between steps only: a call already running is not interrupted.

`max_tokens` counts generated tokens (completion tokens, verifier calls included) — the part a
strategy controls; FLOPs cover prompts too.

    >>> budget = Budget(max_tokens=1000)
    >>> budget.exceeded(Bill(completion_tokens=1200))
    True
    >>> Budget(max_tokens=0)
    Traceback (most recent call last):
    pydantic_core._pydantic_core.ValidationError: ...
"""

from __future__ import annotations

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from thinktime.errors import ThinktimeError
from thinktime.types import Bill


class Budget(BaseModel):
    """Caps on one answer's spend; unset fields do not limit."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    max_completion_tokens: int | None = Field(
        None,
        ge=1,
        validation_alias=AliasChoices("max_completion_tokens", "max_tokens"),
        description="Generated tokens for the whole answer: every sample, reasoning and verifier "
        "calls included (OpenAI's max_completion_tokens; `max_tokens` is accepted as an alias).",
    )
    max_flops: float | None = Field(None, gt=0, description="Forward FLOPs, prompts included.")
    max_seconds: float | None = Field(None, gt=0, description="Wall seconds (between steps).")
    max_dollars: float | None = Field(None, gt=0, description="Dollars (between steps).")
    max_samples: int | None = Field(
        None, ge=1, description="The strategy's samples drawn (checked before each call)."
    )

    def exceeded(self, bill: Bill) -> bool:
        """True once any cap is reached."""
        checks = (
            (self.max_completion_tokens, bill.completion_tokens),
            (self.max_flops, bill.flops),
            (self.max_seconds, bill.seconds),
            (self.max_dollars, bill.dollars),
        )
        return any(cap is not None and spent is not None and spent >= cap for cap, spent in checks)

    def tokens_left(self, bill: Bill, flops_per_token: float | None) -> int | None:
        """Generated tokens still affordable under the token and FLOP caps (None: no cap)."""
        left: list[float] = []
        if self.max_completion_tokens is not None:
            left.append(self.max_completion_tokens - bill.completion_tokens)
        if self.max_flops is not None and flops_per_token and bill.flops is not None:
            left.append((self.max_flops - bill.flops) / flops_per_token)
        return max(0, int(min(left))) if left else None


class SampleCapError(ThinktimeError):
    """A call would draw more samples than `Budget.max_samples` allows."""
