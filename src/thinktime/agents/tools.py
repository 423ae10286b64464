"""The tools an agent run can offer: each an OpenAI function definition and the code that
answers a call of it. `calculator` is safe arithmetic (`calculator.py`); `python` runs the
model's program in the kernel sandbox (`verifiers.sandbox`) and returns what it printed (where
the kernel layers are missing it refuses, unless the caller passes `unsafe_exec=True`).

    >>> from thinktime.types import ToolCall
    >>> run_call(ToolCall("c1", "calculator", '{"expression": "6*7"}'), ("calculator",))
    '42'
    >>> run_call(ToolCall("c2", "calculator", "not json"), ("calculator",))
    'error: the arguments are not a JSON object'
    >>> run_call(ToolCall("c3", "shell", "{}"), ("calculator",))
    "error: no tool named 'shell'; the tools are: calculator"
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from thinktime.agents.calculator import calculate
from thinktime.errors import ThinktimeError
from thinktime.types import ToolCall
from thinktime.verifiers.sandbox import run_python

MAX_OUTPUT = 2000  # characters of a tool's result the model reads


@dataclass(frozen=True)
class Tool:
    definition: dict[str, Any]  # OpenAI's `{"type": "function", "function": {…}}`
    # (the call's arguments, the operator's unsafe_exec) → the result the model reads
    run: Callable[[dict[str, Any], bool], str]


def _calculator(arguments: dict[str, Any], unsafe_exec: bool) -> str:
    return calculate(str(arguments.get("expression", "")))


def _python(arguments: dict[str, Any], unsafe_exec: bool) -> str:
    try:
        result = run_python(str(arguments.get("code", "")), unsafe_exec=unsafe_exec)
    except ThinktimeError as exc:  # no sandbox on this machine: the model reads why
        return f"error: {exc}"
    return result.stdout.strip() if result.ok else f"error: {result.reason}"


def _function(name: str, description: str, argument: str, about: str) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {
                "type": "object",
                "properties": {argument: {"type": "string", "description": about}},
                "required": [argument],
            },
        },
    }


TOOLS: dict[str, Tool] = {
    "calculator": Tool(
        _function(
            "calculator",
            "Evaluate an arithmetic expression and return its value.",
            "expression",
            "e.g. (12 - 2) * 4 / 5",
        ),
        _calculator,
    ),
    "python": Tool(
        _function(
            "python",
            "Run a Python program and return what it prints.",
            "code",
            "a program that prints its result",
        ),
        _python,
    ),
}


def definitions(names: Sequence[str]) -> tuple[dict[str, Any], ...]:
    """The OpenAI definitions of the tools `names`; an unknown name is a one-line error."""
    unknown = [name for name in names if name not in TOOLS]
    if unknown:
        raise ThinktimeError(f"unknown tool {unknown[0]!r}; the tools are: {', '.join(TOOLS)}")
    return tuple(TOOLS[name].definition for name in names)


def run_call(call: ToolCall, offered: Sequence[str], unsafe_exec: bool = False) -> str:
    """What the tool answers to `call` (an error text the model reads when it is bad);
    `unsafe_exec` lets a tool that runs code run it without kernel isolation where missing."""
    if call.name not in offered:
        return f"error: no tool named {call.name!r}; the tools are: {', '.join(offered)}"
    try:
        arguments = json.loads(call.arguments)
    except json.JSONDecodeError:
        arguments = None
    if not isinstance(arguments, dict):
        return "error: the arguments are not a JSON object"
    return TOOLS[call.name].run(arguments, unsafe_exec)[:MAX_OUTPUT]
