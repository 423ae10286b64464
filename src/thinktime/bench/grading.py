"""Grade one answer and say *why* it is not correct: wrong, unparseable, empty or truncated.

A truncated sample (finish_reason = length) that still got the right answer counts as correct;
otherwise the failure kinds are kept apart, never folded into "wrong". A sample its strategy
stopped early (finish_reason = cut, DeepConf) is truncated whatever its partial text says.

    >>> diagnose("… so \\\\boxed{18}", "18", "stop", 1.0)
    'correct'
    >>> diagnose("the total is", None, "length", 0.0)
    'truncated'
    >>> diagnose("I cannot tell", None, "stop", 0.0)
    'unparseable'
"""

from __future__ import annotations

from typing import Literal

from thinktime.types import CUT

Verdict = Literal["correct", "wrong", "unparseable", "empty", "truncated"]
VERDICTS: tuple[Verdict, ...] = ("correct", "wrong", "unparseable", "empty", "truncated")


def diagnose(text: str, answer: str | None, finish_reason: str, score: float) -> Verdict:
    if finish_reason == CUT:  # stopped by its strategy (DeepConf): it did not answer, nor vote
        return "truncated" if text.strip() else "empty"
    if score >= 1.0:
        return "correct"
    if not text.strip():
        return "empty"
    if finish_reason == "length":
        return "truncated"
    if answer is None:
        return "unparseable"
    return "wrong"
