"""Tasks: question sets with gold answers and graders, one module per source.

`load_task(spec)` builds one from a spec string:
`gsm8k`, `math500`, `reasoning_gym:chain_sum`, `jsonl:/path/file.jsonl`.

    >>> sorted(TASKS)
    ['gsm8k', 'jsonl', 'math500', 'reasoning_gym']
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from thinktime.errors import ThinktimeError
from thinktime.tasks import gsm8k, jsonl, math500, reasoning_gym
from thinktime.tasks.base import Problem, Task

TASKS: dict[str, Callable[..., Task]] = {
    "gsm8k": gsm8k.load,
    "math500": math500.load,
    "reasoning_gym": reasoning_gym.load,
    "jsonl": jsonl.load,
}


def load_task(spec: str, **options: Any) -> Task:
    """`NAME` or `NAME:ARG` (a reasoning-gym family, a JSONL path, or a data file)."""
    name, _, arg = spec.partition(":")
    if name not in TASKS:
        raise ThinktimeError(f"unknown task {name!r}; choose one of: {', '.join(TASKS)}")
    options = {k: v for k, v in options.items() if v is not None}
    try:
        if name in ("reasoning_gym", "jsonl"):
            if not arg:
                raise ThinktimeError(f"task {name} needs an argument: {name}:FAMILY_OR_PATH")
            return TASKS[name](arg, **options)
        return TASKS[name](arg or None, **options)
    except TypeError as exc:
        raise ThinktimeError(f"bad option for task {name!r}: {exc}") from None


__all__ = ["TASKS", "Problem", "Task", "load_task"]
