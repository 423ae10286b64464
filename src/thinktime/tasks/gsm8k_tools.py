"""`gsm8k_tools`: GSM8K answered as a tool-using agent with a calculator.

The same problems and gold answers as `gsm8k` (same sources, same options); the bench runs each
as an agent (`thinktime.agents.loop`): its first step must call `calculator` (`tool_choice`
required: left free, the 0.5B model answers in prose without calculating), later steps may
call it or answer, and the final answer is graded against the gold one. Strategies that reply
with the model's own message run the steps: `plain` (one sample per step) or `tool_vote`.

    $ thinktime bench --task gsm8k_tools --data-dir ../shared/data --limit 20 -s plain -s tool_vote

    >>> task = load(limit=2)  # doctest: +SKIP
    >>> task.name, task.tools  # doctest: +SKIP
    ('gsm8k_tools', ('calculator',))
"""

from __future__ import annotations

from pathlib import Path

from thinktime.tasks.base import Task, register_task
from thinktime.tasks.gsm8k import load as load_gsm8k

TOOLS = ("calculator",)


@register_task("gsm8k_tools")
def load(
    source: str | None = None,
    split: str = "test",
    limit: int | None = None,
    offset: int = 0,
    seed: int | None = None,
    data_dir: Path | None = None,
) -> Task:
    task = load_gsm8k(source, split, limit, offset, seed, data_dir)
    return Task("gsm8k_tools", task.problems, task.grader, TOOLS, first_tool_choice="required")
