"""A problem (id, question, gold answer) and a task: its problems and the grader it carries.

The grader gives each problem its verifier (`verifiers/gold.py`): by default the gold answer,
compared by math-verify equivalence; reasoning-gym tasks carry the family's own scorer. The bench,
the trace filter and RL rewards all grade through it.

>>> task = Task("toy", [Problem("toy/0", "2+2?", "4")])
>>> task.grade(task.problems[0], "4.0")
1.0
>>> task.grader(task.problems[0]).name
'gold'
"""

from __future__ import annotations

import hashlib
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from thinktime.registry import Registry
from thinktime.verifiers.gold import GoldVerifier, Grader


@dataclass(frozen=True)
class Problem:
    id: str
    question: str
    gold: str
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """What the problem asks and expects, hashed: an edited question or gold changes it
        (the store then drops the old verdicts). `Problem("a", "6x7?", "42").fingerprint`
        differs from `Problem("a", "6x8?", "48").fingerprint`."""
        content = f"{self.question}\x00{self.gold}".encode("utf-8", "replace")
        return hashlib.sha256(content).hexdigest()[:16]


def gold_grader(problem: Problem) -> Grader:
    """The default grader: the problem's gold answer, by mathematical equivalence."""
    return GoldVerifier(problem.gold)


@dataclass
class Task:
    """A named list of problems and the grader that says, per problem, what is right."""

    name: str
    problems: list[Problem]
    grader: Callable[[Problem], Grader] = gold_grader
    tools: tuple[str, ...] = ()  # answered as a tool-using agent with these tools (bench)
    first_tool_choice: Literal["auto", "required"] = "auto"  # the agent's first step must call?

    def grade(self, problem: Problem, answer: str | None) -> float:
        """`answer` (extracted) graded by the task's grader: 1.0 = correct, partial credit below."""
        return self.grader(problem).grade(answer)


def data_dir() -> Path | None:
    """Where local copies of datasets live (`THINKTIME_DATA`), if set."""
    root = os.environ.get("THINKTIME_DATA")
    return Path(root).expanduser() if root else None


def select(
    problems: list[Problem], limit: int | None, offset: int = 0, seed: int | None = None
) -> list[Problem]:
    """`limit` problems from `offset`, or — with `seed` — a seeded random sample of them."""
    pool = problems[offset:]
    if seed is not None:
        pool = random.Random(seed).sample(pool, k=min(limit or len(pool), len(pool)))
    return pool if limit is None else pool[:limit]


# built-in task sources: name → the module whose `load` registers it (imported on first use);
# the names appear here and in their own modules only (tests/test_names_in_one_place.py)
TASKS: Registry[Callable[..., Task]] = Registry(
    "task",
    {
        name: f"thinktime.tasks.{name}"
        for name in ("gsm8k", "gsm8k_tools", "math500", "reasoning_gym", "jsonl")
    },
)
DEFAULT_TASK = "gsm8k"  # what `thinktime bench` runs when no task is named


def register_task(name: str) -> Callable[[Callable[..., Task]], Callable[..., Task]]:
    """Decorator: make `load(arg, **options) -> Task` available as task source `name`."""
    return TASKS.register(name)
