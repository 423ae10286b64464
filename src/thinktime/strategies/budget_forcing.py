"""`budget_forcing`: bound the thinking between a minimum and a maximum number of tokens (s1).

The model thinks in plain text until it starts its final answer (`\\boxed`) or ends its turn:
1) below `min_thinking_tokens`, that end is suppressed: "Wait" is appended and the model goes
   on thinking, re-checking its work (at most `max_waits` times);
2) at `max_thinking_tokens`, thinking is cut off;
3) either way the answer is then forced: "Final answer: \\boxed{" is appended and a few greedy
   tokens complete it.
Works on any backend that can continue a raw text (it renders the chat template once).

Where the backend's engine caps thinking itself (`backends.base.ThinkingBudget`: vLLM's
`thinking_token_budget`, SGLang's `thinking_budget`) and no minimum is asked, the cap is the
server's: one chat call with `max_thinking_tokens`, no continuation, no Wait loop; the server
ends the thinking at the cap and the model answers after it (up to the caller's `max_tokens`).

Reference: Muennighoff et al. 2025, "s1: Simple test-time scaling", arXiv:2501.19393.

    >>> from thinktime.backends.fake import FakeBackend
    >>> from thinktime import solve
    >>> script = ["36 - 10 = 24", "Wait, 36 - 10 = 26", "26}"]
    >>> r = solve("apples?", backend=FakeBackend(script), strategy="budget_forcing",
    ...           min_thinking_tokens=8)
    >>> r.answer, r.details["waits"]
    ('26', 1)
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, model_validator

from thinktime.answers.extract import extract_answer, thinking_tokens
from thinktime.backends.base import caps_thinking
from thinktime.strategies.base import Context, Outcome, as_sample, majority, register_strategy
from thinktime.types import Request, Sample

WAIT = "\nWait,"
FORCE_ANSWER = "\n\nFinal answer: \\boxed{"


class BudgetForcingParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    max_thinking_tokens: int = Field(512, ge=1, le=65536, description="Thinking is cut here.")
    min_thinking_tokens: int = Field(0, ge=0, le=65536, description="Below this, append Wait.")
    max_waits: int = Field(2, ge=0, le=32, description="Most times to append Wait.")
    answer_tokens: int = Field(24, ge=1, le=512, description="Tokens for the forced answer.")

    @model_validator(mode="after")
    def _ordered(self) -> BudgetForcingParams:
        if self.min_thinking_tokens > self.max_thinking_tokens:
            raise ValueError("min_thinking_tokens must not exceed max_thinking_tokens")
        return self


@register_strategy(
    "budget_forcing",
    "Bound thinking tokens: append 'Wait' below a minimum, force the answer at a maximum.",
    "Muennighoff et al. 2025, arXiv:2501.19393",
    BudgetForcingParams,
    facts=("thinking_tokens", "waits"),
    tokens=lambda p: (1.0, 1.0),
)
def budget_forcing(question: str, ctx: Context, params: BudgetForcingParams) -> Outcome:
    # the cap: the strategy's, lowered by a sampling max_thinking_tokens where one was given
    cap = min(params.max_thinking_tokens, ctx.params.max_thinking_tokens or 65536)
    if caps_thinking(ctx.ledger.backend) and params.min_thinking_tokens == 0:
        return _server_budget(question, ctx, cap)
    prompt = ctx.chat_prompt(ctx.messages(question))
    thinking, spent, waits, cut = "", 0, 0, False
    while not ctx.exhausted():
        # 1) think until the answer starts (the stop string) or the thinking budget is used up
        room = cap - spent
        step = ctx.params.with_(max_tokens=room, stop=("\\boxed",), max_thinking_tokens=None)
        [[completion]] = ctx.continue_text([prompt + thinking], params=step)
        thinking += completion.text
        spent += completion.completion_tokens
        if completion.finish_reason == "length" or spent >= cap:
            cut = True
            break
        # 2) it wants to stop: below the minimum, suppress that and make it re-check
        if spent < params.min_thinking_tokens and waits < params.max_waits:
            thinking += WAIT
            waits += 1
            continue
        break
    # 3) force the final answer with a few greedy tokens
    text, answer_tokens = force_answer(ctx, prompt, thinking, params.answer_tokens)
    sample = Sample(
        text=text,
        answer=extract_answer(text),
        finish_reason="length" if cut else "stop",
        completion_tokens=spent + answer_tokens,
        reasoning_tokens=spent,
    )
    return majority([sample], {"thinking_tokens": spent, "waits": waits, "cut": cut})


def _server_budget(question: str, ctx: Context, cap: int) -> Outcome:
    """One call whose thinking the engine itself ends at `cap` tokens; the reply after it can
    take the caller's `max_tokens`."""
    total = min(cap + ctx.params.max_tokens, 131072)
    step = ctx.params.with_(max_thinking_tokens=cap, max_tokens=total)
    [generation] = ctx.ledger.generate([Request(messages=ctx.messages(question))], step)
    [completion] = generation.completions
    spent = thinking_tokens(completion)
    cut = spent >= cap or completion.finish_reason == "length"
    details = {"thinking_tokens": spent, "waits": 0, "cut": cut, "server_budget": True}
    return majority([as_sample(completion)], details)


def force_answer(ctx: Context, prompt: str, thinking: str, max_tokens: int = 24) -> tuple[str, int]:
    """Make the model answer now: `thinking`, then "Final answer: \\boxed{", then a few greedy
    tokens up to the closing brace. Returns that whole text and the tokens the answer took.

    Budget forcing does it when thinking is cut; step search when it runs out of steps.

        >>> from thinktime.backends.fake import FakeBackend
        >>> from thinktime.compute.ledger import Ledger
        >>> from thinktime.sampling import SamplingParams
        >>> ctx = Context(Ledger(FakeBackend(["26} and more"])), SamplingParams())
        >>> force_answer(ctx, "q: ", "36 - 10 = 26")
        ('36 - 10 = 26\\n\\nFinal answer: \\\\boxed{26}', 1)
    """
    params = ctx.params.with_(
        temperature=0.0, max_tokens=max_tokens, stop=("}",), max_thinking_tokens=None
    )
    [[answer]] = ctx.continue_text([prompt + thinking + FORCE_ANSWER], params=params)
    return thinking + FORCE_ANSWER + answer.text.split("}")[0] + "}", answer.completion_tokens
