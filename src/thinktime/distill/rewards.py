"""Verifiable rewards for RL (the R1-Zero recipe): answer correctness and answer format.

TRL's GRPOTrainer calls each reward function with the sampled `completions` (chat lists or
strings) plus every extra dataset column as a keyword list — here `answer`, the gold answer, or
`question_id` for `task_reward`. Correctness is graded by the same grader a task carries (the
gold verifier, or a reasoning-gym scorer), so the model being trained is rewarded exactly when
the bench would grade its answer correct.

    >>> correctness_reward([[{"role": "assistant", "content": "so \\boxed{4}"}]], answer=["4"])
    [1.0]
    >>> format_reward(["the answer is 4"])
    [0.0]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from thinktime.answers.extract import extract_answer
from thinktime.tasks import Task
from thinktime.verifiers.gold import GoldVerifier

Reward = Callable[..., list[float]]


def _text(completion: Any) -> str:
    if isinstance(completion, list):  # conversational: the last (assistant) message
        return str(completion[-1]["content"]) if completion else ""
    return str(completion)


def correctness_reward(completions: Sequence[Any], answer: Sequence[str], **_: Any) -> list[float]:
    """1.0 when the completion's final answer is the gold answer (the grader of a gold task)."""
    return [
        GoldVerifier(gold).grade(extract_answer(_text(c)))
        for c, gold in zip(completions, answer, strict=True)
    ]


def task_reward(task: Task) -> Reward:
    """A correctness reward graded by `task`'s own grader (reasoning-gym's scorer included);
    the dataset rows carry each problem's id as `question_id`.

        >>> from thinktime.tasks import Problem, Task
        >>> reward = task_reward(Task("toy", [Problem("toy/0", "2+2?", "4")]))
        >>> reward(["\\boxed{4}", "\\boxed{5}"], question_id=["toy/0", "toy/0"])
        [1.0, 0.0]
    """
    problems = {p.id: p for p in task.problems}

    def correctness(
        completions: Sequence[Any], question_id: Sequence[str], **_: Any
    ) -> list[float]:
        return [
            task.grade(problems[qid], extract_answer(_text(c)))
            for c, qid in zip(completions, question_id, strict=True)
        ]

    return correctness


def format_reward(completions: Sequence[Any], **_: Any) -> list[float]:
    """1.0 when the completion ends its reasoning with a `\\boxed{}` answer, else 0.0."""
    return [1.0 if "\\boxed{" in _text(c) else 0.0 for c in completions]


REWARDS = {"correctness": correctness_reward, "format": format_reward}
