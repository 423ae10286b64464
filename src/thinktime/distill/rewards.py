"""Verifiable rewards for RL (the R1-Zero recipe): answer correctness and answer format.

TRL's GRPOTrainer calls each reward function with the sampled `completions` (chat lists or
strings) plus every extra dataset column as a keyword list — here `answer`, the gold answer.
Correctness uses thinktime's own extraction and math-verify equivalence, so a policy is rewarded
exactly when the bench would grade it correct.

    >>> correctness_reward([[{"role": "assistant", "content": "so \\\\boxed{4}"}]], answer=["4"])
    [1.0]
    >>> format_reward(["the answer is 4"])
    [0.0]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from thinktime.answers.equivalence import equivalent
from thinktime.answers.extract import extract_answer


def _text(completion: Any) -> str:
    if isinstance(completion, list):  # conversational: the last (assistant) message
        return str(completion[-1]["content"]) if completion else ""
    return str(completion)


def correctness_reward(completions: Sequence[Any], answer: Sequence[str], **_: Any) -> list[float]:
    """1.0 when the completion's final answer equals the gold answer, else 0.0."""
    return [
        1.0 if equivalent(extract_answer(_text(c)), gold) else 0.0
        for c, gold in zip(completions, answer, strict=True)
    ]


def format_reward(completions: Sequence[Any], **_: Any) -> list[float]:
    """1.0 when the completion ends its reasoning with a `\\boxed{}` answer, else 0.0."""
    return [1.0 if "\\boxed{" in _text(c) else 0.0 for c in completions]


REWARDS = {"correctness": correctness_reward, "format": format_reward}
