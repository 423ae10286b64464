"""Majority voting over equivalent answers.

Answers are grouped into equivalence classes (`equivalent`: "18" = "18.0", "1/2" = "0.5"); each
class is shown by the first answer seen in it. Samples without an answer do not vote. Ties go to
the class seen first, so the result is deterministic for a given sample order.

    >>> vote(["18", "18.0", "17", None])
    ('18', {'18': 2.0, '17': 1.0})
    >>> vote(["3", "4"])          # tie: the first seen wins
    ('3', {'3': 1.0, '4': 1.0})
    >>> vote(["3", "4"], weights=[0.2, 0.9])
    ('4', {'3': 0.2, '4': 0.9})
"""

from __future__ import annotations

from collections.abc import Sequence

from thinktime.answers.equivalence import equivalent


def classes(answers: Sequence[str | None]) -> list[int | None]:
    """For each answer, the index of the first answer equivalent to it (None for no answer)."""
    representatives: list[int] = []
    labels: list[int | None] = []
    for i, answer in enumerate(answers):
        if answer is None:
            labels.append(None)
            continue
        match = next((r for r in representatives if equivalent(answers[r], answer)), None)
        if match is None:
            representatives.append(i)
            match = i
        labels.append(match)
    return labels


def vote(
    answers: Sequence[str | None], weights: Sequence[float] | None = None
) -> tuple[str | None, dict[str, float]]:
    """The winning answer and the vote table {representative answer: total weight}."""
    weights = weights if weights is not None else [1.0] * len(answers)
    table: dict[str, float] = {}
    for label, weight in zip(classes(answers), weights, strict=True):
        if label is not None:
            key = answers[label]
            assert key is not None
            table[key] = table.get(key, 0.0) + weight
    if not table:
        return None, table
    # max() keeps the first of equal values, and the table is in first-seen order
    winner = max(table, key=lambda k: table[k])
    return winner, table
