"""`tool_vote`: self-consistency over an agent's next step — sample k candidate steps, vote.

An agent's step is a model call whose reply is an action: tool calls, or a final text answer.
1) draw `first` candidate steps for the same conversation in one batched call (shared prefill);
2) if they all agree, stop (adaptive: easy steps cost `first` samples); else draw the rest, up
   to `n`, in one more batched call;
3) vote over normalised actions: calls are equal when they call the same functions with
   arguments equal after JSON normalisation (`json.dumps(..., sort_keys=True)`), and a final
   text answer is its own class, grouped by the usual answer equivalence ("6" = "6.0"); the
   shown step is the first sample of the winning class; ties go to the class seen first.
The bill covers every sample drawn. `details` records `samples_used` and `changed`: whether the
vote picked a different action than the first sample alone would have (what voting bought).

Reference: Wang et al. 2023, "Self-Consistency Improves Chain of Thought Reasoning in Language
Models", arXiv:2203.11171, applied per step of an agent; adaptive stopping as in Aggarwal et
al. 2023, arXiv:2305.11860.

    >>> from thinktime import solve
    >>> from thinktime.backends.fake import FakeBackend
    >>> from thinktime.backends.toolcalls import FUNCTION
    >>> from thinktime.types import ReplyFormat
    >>> calls = ['{"name": "calculator", "arguments": {"expression": "2*3"}}',
    ...          '{"name": "calculator", "arguments": {"expression": "2+3"}}',
    ...          '{"name":"calculator","arguments":{"expression":"2*3"}}']
    >>> r = solve("2*3?", backend=FakeBackend(calls), strategy="tool_vote",
    ...           reply_format=ReplyFormat(tools=(FUNCTION,)))
    >>> r.votes, r.details["samples_used"], r.bill.samples
    ({'calculator({"expression": "2*3"})': 3.0, 'calculator({"expression": "2+3"})': 1.0}, 4, 4)
"""

from __future__ import annotations

import json

from pydantic import BaseModel, ConfigDict, Field, model_validator

from thinktime.answers.extract import extract_answer
from thinktime.answers.voting import classes
from thinktime.strategies.base import Context, Outcome, register_strategy
from thinktime.types import Sample, ToolCall


class ToolVoteParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(4, ge=1, le=64, description="Most candidate steps to draw (k).")
    first: int = Field(2, ge=1, le=64, description="Steps drawn first; all agreeing: stop there.")
    adaptive: bool = Field(True, description="Stop after `first` when they agree (else draw n).")

    @model_validator(mode="after")
    def _first_within_n(self) -> ToolVoteParams:
        if self.first > self.n:
            raise ValueError(f"first ({self.first}) must be at most n ({self.n})")
        return self


def call_key(call: ToolCall) -> str:
    """A call normalised: its name and its arguments as sorted JSON (raw text if not JSON).

    >>> call_key(ToolCall("a", "add", '{"y": 2, "x": 1}')) == call_key(ToolCall("b", "add",
    ...                                                                '{"x":1,"y":2}'))
    True
    """
    try:
        arguments = json.dumps(json.loads(call.arguments), sort_keys=True)
    except json.JSONDecodeError:
        arguments = call.arguments.strip()
    return f"{call.name}({arguments})"


def action(sample: Sample) -> str | None:
    """What a step does, as a vote key: its calls (in order), else its answer, else its text;
    None for an empty reply (it does not vote)."""
    if sample.tool_calls:
        return "; ".join(call_key(call) for call in sample.tool_calls)
    text = " ".join(sample.text.split())
    return extract_answer(text) or text or None


def tally(samples: list[Sample]) -> tuple[list[str | None], dict[str, float]]:
    """(each sample's class representative, the vote table): calls grouped by equal keys,
    text answers by answer equivalence; tables in first-seen order."""
    keys = [action(s) for s in samples]
    texts = [k if s.tool_calls == () else None for k, s in zip(keys, samples, strict=True)]
    labels = classes(texts)  # equivalence among text answers only
    representative: list[str | None] = []
    for index, (key, sample) in enumerate(zip(keys, samples, strict=True)):
        if key is None:
            representative.append(None)
        elif sample.tool_calls:
            representative.append(key)  # calls: equal keys are one class
        else:
            label = labels[index]
            representative.append(keys[label] if label is not None else None)
    table: dict[str, float] = {}
    for key in representative:
        if key is not None:
            table[key] = table.get(key, 0.0) + 1.0
    return representative, table


def _samples_at_once(params: ToolVoteParams) -> int:
    return max(params.first, params.n - params.first) if params.adaptive else params.n


@register_strategy(
    "tool_vote",
    "Self-consistency over an agent's next step: k candidate steps, vote over normalised "
    "tool calls (a final answer is its own class), adaptive k.",
    "Wang et al. 2023, arXiv:2203.11171 (per agent step); Aggarwal et al. 2023, arXiv:2305.11860",
    ToolVoteParams,
    samples=_samples_at_once,
    replies=True,
    drawn=lambda p: p.n,
    facts=("samples_used",),
)
def tool_vote(question: str, ctx: Context, params: ToolVoteParams) -> Outcome:
    conversation = ctx.conversation(question)
    # 1) the first candidates, one batched call
    first = params.first if params.adaptive else params.n
    [samples] = ctx.sample([conversation], n=first, answered=False)
    # 2) unanimous: settled; else the rest of the k, one more batched call
    seen = tally(samples)[0]
    unanimous = None not in seen and len(set(seen)) == 1
    if len(samples) < params.n and not unanimous and not ctx.exhausted():
        [more] = ctx.sample([conversation], n=params.n - len(samples), answered=False)
        samples.extend(more)
    # 3) the vote: the first sample of the winning class is the step taken
    representative, table = tally(samples)
    if not table:
        return Outcome(None, tuple(samples), {}, 0, {"samples_used": len(samples)})
    winner = max(table, key=lambda k: table[k])  # first-seen wins ties
    chosen = representative.index(winner)
    step = samples[chosen]
    details = {
        "samples_used": len(samples),
        "action": "tool_calls" if step.tool_calls else "answer",
        "changed": representative[0] != winner,
    }
    answer = None if step.tool_calls else extract_answer(step.text)
    return Outcome(answer, tuple(samples), table, chosen, details)
