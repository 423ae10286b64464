"""`plain`: the model as it is — the conversation sent unchanged, one sample, nothing extracted.

What `thinktime serve` runs for a plain chat request (no strategy, no `reasoning_effort`), so an
unchanged OpenAI app gets the plain model, yet the call still goes through `solve`: the same
ledger, budget and cancellation as every other strategy, and a bill. No system prompt is added
and no answer is pulled out of the text: `answer` is None and the reply is the sample's text
(`Result.text`). Since the reply is not reasoning towards an answer, only a reasoning
model's thinking is billed as `reasoning_tokens` (none for a model that does not think apart).

Reference: none — the zero-test-time-compute baseline (the chat model as served).

    >>> from thinktime import solve
    >>> from thinktime.backends.fake import FakeBackend
    >>> r = solve("Say hi.", backend=FakeBackend(["Hi! \\\\boxed{1}"]), strategy="plain")
    >>> r.answer, r.text, r.bill.completion_tokens, r.bill.reasoning_tokens
    (None, 'Hi! \\\\boxed{1}', 2, 0)
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from thinktime.strategies.base import Context, Outcome, register_strategy


class PlainParams(BaseModel):
    model_config = ConfigDict(extra="forbid")


@register_strategy(
    "plain",
    "The plain model: the conversation sent unchanged, no prompt added, no answer extracted.",
    "— (the baseline: the chat model as served)",
    PlainParams,
    replies=True,
    streams=True,
)
def plain(question: str, ctx: Context, params: PlainParams) -> Outcome:
    # the caller's turns and question exactly as sent, with the caller's sampling; the text is
    # the reply: no answer is extracted from it, and only its thinking is billed as reasoning
    # (an agent's tool calls and results after the question included, its tools offered)
    [[sample]] = ctx.sample([ctx.conversation(question)], answered=False)
    return Outcome(answer=None, samples=(sample,), chosen=0)
