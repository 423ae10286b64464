"""reasoning-gym (Stojanovski et al. 2025): procedurally generated, verifiable tasks, offline.

`reasoning_gym:FAMILY` builds `size` problems of a family (gsm_symbolic, basic_arithmetic,
chain_sum, simple_equations, knights_knaves, …) from `seed`;
`reasoning_gym:FAMILY:KNOB=VALUE,KNOB=VALUE` sets the family's difficulty knobs (the fields of
its config, e.g. `chain_sum:min_terms=2,max_terms=3,min_digits=2,max_digits=2`). The knobs are
part of the task's name and of every problem's id, so two difficulties never share results.
The task's grader is the family's own `score_answer` (`ScorerVerifier`); reasoning-gym gives
partial credit, and only a score of 1.0 counts as correct.

Example record (basic_arithmetic, seed 1):
    {"question": "Calculate 5 - 3 - 6.", "answer": "-4", "metadata": {...}}

    >>> task = load("basic_arithmetic", size=3, seed=1)  # doctest: +SKIP
    >>> task.grade(task.problems[0], "-4")  # doctest: +SKIP
    1.0
"""

from __future__ import annotations

import json
from difflib import get_close_matches
from typing import Any

from thinktime.assignments import parse_items
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
    family, _, knobs = family.partition(":")
    usage = f"bad reasoning-gym knobs {knobs!r}: write FAMILY:KNOB=VALUE,KNOB=VALUE"
    config = {**parse_items(knobs, usage), **config}
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
        raise ThinktimeError(
            f"reasoning-gym could not build {family!r}: {exc or type(exc).__name__}; "
            f"its knobs: {', '.join(knob_names(reasoning_gym, family)) or 'none'}"
        ) from None
    label = family + (
        ":" + ",".join(f"{k}={json.dumps(config[k])}" for k in sorted(config)) if config else ""
    )
    end = size if limit is None else min(size, offset + limit)
    entries = {i: dataset[i] for i in range(offset, end)}
    problems = [
        Problem(f"reasoning_gym/{label}/{seed}/{i}", e["question"], str(e["answer"]), {"entry": e})
        for i, e in entries.items()
    ]

    def grader(problem: Problem) -> Grader:
        return ScorerVerifier.reasoning_gym(dataset, problem.meta["entry"])

    return Task(f"reasoning_gym:{label}", problems, grader)


def knob_names(reasoning_gym: Any, family: str) -> list[str]:
    """The difficulty knobs of `family`: its config's fields, less `seed` and `size`."""
    import dataclasses

    entry = getattr(getattr(reasoning_gym, "factory", None), "DATASETS", {}).get(family)
    config = entry[1] if isinstance(entry, tuple) and len(entry) == 2 else None
    if config is None or not dataclasses.is_dataclass(config):
        return []
    return [f.name for f in dataclasses.fields(config) if f.name not in ("seed", "size")]


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
