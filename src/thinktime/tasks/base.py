"""A problem (id, question, gold answer) and a task (problems + how to grade an answer).

>>> task = Task("toy", [Problem("toy/0", "2+2?", "4")])
>>> task.grade(task.problems[0], "4.0")
1.0
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from thinktime.answers.equivalence import equivalent
from thinktime.registry import Registry


@dataclass(frozen=True)
class Problem:
    id: str
    question: str
    gold: str
    meta: dict[str, Any] = field(default_factory=dict)


def math_grade(problem: Problem, answer: str | None) -> float:
    """1.0 when `answer` is mathematically equivalent to the gold answer (math-verify)."""
    return 1.0 if equivalent(answer, problem.gold) else 0.0


@dataclass
class Task:
    """A named list of problems and a grader returning a score in [0, 1] (1.0 = correct)."""

    name: str
    problems: list[Problem]
    grade: Callable[[Problem, str | None], float] = math_grade


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


# built-in task sources: name → the module whose `load` registers it (imported on first use)
TASKS: Registry[Callable[..., Task]] = Registry(
    "task",
    {name: f"thinktime.tasks.{name}" for name in ("gsm8k", "math500", "reasoning_gym", "jsonl")},
)


def register_task(name: str) -> Callable[[Callable[..., Task]], Callable[..., Task]]:
    """Decorator: make `load(arg, **options) -> Task` available as task source `name`."""
    return TASKS.register(name)
