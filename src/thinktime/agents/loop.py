"""An agent run: a question answered in steps, each step one `solve` call whose reply is an
action — tool calls, which are run and their results appended, or a final text answer.

1) send the conversation so far with the tools offered (`solve(..., reply_format=…, after=…)`),
   under any strategy that replies with the model's message: `plain` (one sample per step) or
   `tool_vote` (k candidate steps, voted);
2) a reply with tool calls: run each (`tools.py`), append the call and its results, go to 1;
3) a text reply ends the run; its answer is extracted as for any sample;
4) stop early when a step's results were all seen before (the agent learnt nothing new: it
   is looping — small models re-call the tool on its own result); the answer is then the
   step's last result. At `max_steps` the run stops too, its answer the last result.
Every step keeps its samples' actions, the vote and its bill; the run's bill is their sum.

    >>> from thinktime.backends.fake import FakeBackend
    >>> script = ['{"name": "calculator", "arguments": {"expression": "6*7"}}', "It is 42."]
    >>> run = run_agent("What is 6*7?", FakeBackend(script))
    >>> run.answer, [s.action for s in run.steps], run.steps[0].outputs
    ('42', ['calculator({"expression": "6*7"})', '42'], ('42',))
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from thinktime.agents.tools import definitions, run_call
from thinktime.answers.extract import extract_answer
from thinktime.api import solve
from thinktime.backends.base import Backend
from thinktime.sampling import SamplingParams
from thinktime.strategies import PLAIN
from thinktime.strategies.tool_vote import action
from thinktime.types import Bill, Message, ReplyFormat, ToolCall, ToolChoice

SYSTEM = (
    "You are a careful math assistant. Use the calculator tool for every arithmetic step. "
    "When you know the final answer, reply in words ending with: The answer is N."
)
_NUMBER = re.compile(r"-?\d[\d,]*(?:\.\d+)?")


@dataclass(frozen=True)
class Step:
    """One step: every candidate's action, the vote, what was done, and what it cost."""

    actions: tuple[str | None, ...]  # each sample's action (calls normalised, or its answer)
    votes: dict[str, float]
    action: str | None  # the action taken
    changed: bool  # the vote took another action than the first sample's
    calls: tuple[ToolCall, ...]
    outputs: tuple[str, ...]  # the tools' results, one per call
    text: str
    bill: Bill


@dataclass(frozen=True)
class AgentRun:
    question: str
    answer: str | None
    steps: tuple[Step, ...]
    finished: bool  # ended with a text answer (not a loop or max_steps)
    bill: Bill = field(default_factory=Bill)


def final_answer(text: str) -> str | None:
    """The answer in a final reply: extracted as for any sample, else its last number."""
    numbers = _NUMBER.findall(text)
    return extract_answer(text) or (numbers[-1].replace(",", "") if numbers else None)


def run_agent(
    question: str,
    backend: Backend,
    *,
    tools: Sequence[str] = ("calculator",),
    strategy: str = PLAIN,
    params: BaseModel | Mapping[str, Any] | None = None,
    sampling: SamplingParams | None = None,
    max_steps: int = 6,
    system: str = SYSTEM,
    first_tool_choice: ToolChoice = "auto",
    unsafe_exec: bool = False,
) -> AgentRun:
    """Answer `question` as a tool-using agent (see the module docstring); the first step
    uses the tools as `first_tool_choice` says (`required`: it must call one); `unsafe_exec`
    lets the `python` tool run without kernel isolation where it is missing."""
    offered = definitions(tools)
    fmt = ReplyFormat(tools=offered, tool_choice=first_tool_choice)
    history = (Message("system", system),) if system else ()
    after: list[Message] = []
    steps: list[Step] = []
    bill, seen = Bill(), set[str]()
    for _ in range(max_steps):
        # 1) one step: the conversation so far, through solve (the strategy, the ledger)
        result = solve(question, backend=backend, strategy=strategy, params=params,
                       sampling=sampling, history=history, reply_format=fmt,
                       after=tuple(after))  # fmt: skip
        bill = bill + result.bill
        chosen = result.samples[result.chosen] if result.chosen is not None else None
        actions = tuple(action(s) for s in result.samples)
        taken = action(chosen) if chosen is not None else None
        calls = chosen.tool_calls if chosen is not None else ()
        # 2) run the calls; their results join the conversation
        outputs = tuple(run_call(call, tools, unsafe_exec) for call in calls)
        text = chosen.text if chosen is not None else ""
        changed = bool(result.details.get("changed", False))
        steps.append(Step(actions, dict(result.votes), taken, changed, calls, outputs, text,
                          result.bill))  # fmt: skip
        if not calls:  # 3) a text reply: the final answer
            return AgentRun(question, final_answer(text), tuple(steps), True, bill)
        if seen and seen.issuperset(outputs):  # 4) nothing new: the agent is looping
            break
        seen.update(outputs)
        fmt = ReplyFormat(tools=offered)  # after the first step: call or answer, as it likes
        after += [Message("assistant", text, calls)]
        after += [
            Message("tool", out, tool_call_id=c.id) for c, out in zip(calls, outputs, strict=True)
        ]
    final = steps[-1].outputs if steps else ()  # the newest results
    answer = final[-1] if final and not final[-1].startswith("error") else None
    return AgentRun(question, answer, tuple(steps), False, bill)
