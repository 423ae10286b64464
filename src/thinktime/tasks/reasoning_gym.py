"""reasoning-gym (Stojanovski et al. 2025): procedurally generated, verifiable tasks, offline.

`reasoning_gym:FAMILY` builds `size` problems of a family (gsm_symbolic, basic_arithmetic,
chain_sum, simple_equations, knights_knaves, …) from `seed`; extra options go to the family's
config (its difficulty knobs). The task's grader is the family's own `score_answer`
(`ScorerVerifier`); reasoning-gym gives partial credit, and only a score of 1.0 counts as correct.

Example record (basic_arithmetic, seed 1):
    {"question": "Calculate 5 - 3 - 6.", "answer": "-4", "metadata": {...}}

    >>> task = load("basic_arithmetic", size=3, seed=1)  # doctest: +SKIP
    >>> task.grade(task.problems[0], "-4")  # doctest: +SKIP
    1.0
"""

from __future__ import annotations

from difflib import get_close_matches
from typing import Any

from thinktime.errors import ThinktimeError
from thinktime.tasks.base import Problem, Task, register_task
from thinktime.verifiers.gold import Grader, ScorerVerifier


@register_task("reasoning_gym")
def load(
    family: str,
    size: int = 100,
    seed: int = 0,
    limit: int | None = None,
    offset: int = 0,
    **config: Any,
) -> Task:
    """Problems `offset` .. `offset + limit` (all `size` by default) of the family's dataset
    built from `seed`; only those are generated, and each keeps its index in the id, so a
    sweep over a slice resumes with the same questions."""
    try:
        import reasoning_gym
    except ImportError:
        raise ThinktimeError(
            "reasoning-gym is not installed: pip install 'thinktime[tasks]'"
        ) from None
    families = sorted(getattr(getattr(reasoning_gym, "factory", None), "DATASETS", None) or ())
    if families and family not in families:
        raise ThinktimeError(unknown_family(family, families))
    try:
        dataset = reasoning_gym.create_dataset(family, size=size, seed=seed, **config)
    except Exception as exc:
        raise ThinktimeError(f"reasoning-gym could not build {family!r}: {exc}") from None
    end = size if limit is None else min(size, offset + limit)
    entries = {i: dataset[i] for i in range(offset, end)}
    problems = [
        Problem(f"reasoning_gym/{family}/{seed}/{i}", e["question"], str(e["answer"]), {"entry": e})
        for i, e in entries.items()
    ]

    def grader(problem: Problem) -> Grader:
        return ScorerVerifier.reasoning_gym(dataset, problem.meta["entry"])

    return Task(f"reasoning_gym:{family}", problems, grader)


def unknown_family(family: str, families: list[str]) -> str:
    """The one-line error for a family reasoning-gym does not have: the closest names, and how
    to list them all.

        >>> print(unknown_family("basic_arithmetc", ["basic_arithmetic", "chain_sum"]))
        ... # doctest: +ELLIPSIS
        reasoning-gym could not build 'basic_arithmetc': no such family; did you mean basic_arith...
    """
    close = get_close_matches(family, families, n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}? " if close else ""
    return (
        f"reasoning-gym could not build {family!r}: no such family; {hint}"
        f"list all {len(families)} with: "
        "python -c 'import reasoning_gym; print(*sorted(reasoning_gym.factory.DATASETS))'"
    )
