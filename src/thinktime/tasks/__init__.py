"""Tasks: question sets with gold answers and graders, one module per source.

`load_task(spec)` builds one from a spec string:
`gsm8k`, `gsm8k_tools` (answered as an agent with a calculator), `math500`,
`reasoning_gym:chain_sum`, `jsonl:/path/file.jsonl`.

    >>> sorted(TASKS)
    ['gsm8k', 'gsm8k_tools', 'jsonl', 'math500', 'reasoning_gym']
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

from thinktime.errors import ThinktimeError
from thinktime.tasks.base import DEFAULT_TASK, TASKS, Problem, Task


def load_task(spec: str, data_dir: str | Path | None = None, **options: Any) -> Task:
    """`NAME` or `NAME:ARG` (a reasoning-gym family, a JSONL path, or a data file).

    `data_dir` (a folder of local copies, `$THINKTIME_DATA` when None) goes to the loaders
    that read one; it is a value passed in, never written to the environment."""
    name, _, arg = spec.partition(":")
    loader = TASKS.get_or_fail(name)
    options = {k: v for k, v in options.items() if v is not None}
    # the options a task takes are its loader's named parameters (after the source argument)
    source, *rest = inspect.signature(loader).parameters.values()
    named = [p.name for p in rest if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
    for key in sorted(options.keys() - set(named)):
        raise ThinktimeError(
            f"task {name!r} takes no {key!r} option; its options: {', '.join(named)}"
        )
    if data_dir is not None and "data_dir" in named:
        options["data_dir"] = Path(data_dir).expanduser()
    # a loader whose source argument has no default needs one after the colon (a family, a path)
    if source.default is source.empty and not arg:
        raise ThinktimeError(f"task {name} needs an argument: {name}:{source.name.upper()}")
    try:
        return loader(arg or None, **options)
    except TypeError as exc:
        raise ThinktimeError(f"bad option for task {name!r}: {exc}") from None


__all__ = ["DEFAULT_TASK", "TASKS", "Problem", "Task", "load_task"]
