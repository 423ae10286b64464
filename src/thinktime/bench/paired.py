"""Paired comparisons: two configs on the same questions, as a difference with its own CI.

Every bench comparison is made on shared questions, so each arm's accuracy CI is the wrong
yardstick: the two arms' errors are correlated (an easy question is easy for both), and the CI
of the *difference* per question is far narrower than the two arms' CIs side by side. For
configs A (the reference) and B on the questions both answered:

1) each question's difference d = correct_B − correct_A ∈ {−1, 0, 1}; the estimate is mean(d);
2) its 95% CI by the bootstrap over questions (scipy's BCa; resampling d resamples the pairs),
   and beside it Bonett & Price's adjusted Wald interval (2012), which does not collapse to a
   point when few or no questions are discordant (the bootstrap of 33 zeros is [0, 0]; the
   difference could still be several points) — read it when deciding on few discordant pairs;
3) an exact McNemar test: of the discordant questions (one right, one wrong), B wins `b_wins`
   and A wins `a_wins`; under "no difference" each is a fair coin (scipy's binomial test);
4) how many questions a difference of `delta` needs to be found at 80% power (α 0.05), given the
   discordance seen (Connor 1987's sample size for paired proportions) — a claim needs it.

    >>> c = compare([1, 0, 0, 1, 0, 1, 0, 0], [1, 1, 1, 1, 0, 1, 1, 0], "a", "b")
    >>> c.n, c.difference, c.b_wins, c.a_wins, round(c.p_value, 3)
    (8, 0.375, 3, 0, 0.25)
    >>> [round(x, 3) for x in adjusted_wald([1] * 33, [1] * 33)]
    [-0.079, 0.079]
    >>> questions_needed(0.05, discordant=0.2)
    626
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from thinktime.bench.store import Store


@dataclass(frozen=True)
class Comparison:
    """Config `b` against the reference `a` on the `n` questions both answered."""

    model: str
    a: str
    b: str
    n: int
    accuracy_a: float
    accuracy_b: float
    difference: float  # accuracy_b − accuracy_a, on the shared questions
    ci: tuple[float, float]  # paired bootstrap 95% CI of the difference
    b_wins: int  # questions b got right and a wrong
    a_wins: int
    p_value: float  # exact McNemar (two-sided binomial test on the discordant questions)
    needed: int | None  # questions to find a 5-point difference at 80% power (None: no data)
    # Bonett & Price's adjusted Wald 95% CI of the difference: honest with few discordant pairs
    ci_adjusted: tuple[float, float] = (0.0, 0.0)


def compare(
    a: Sequence[float], b: Sequence[float], name_a: str, name_b: str, model: str = ""
) -> Comparison:
    """`a` and `b`: each question's correctness (1/0) under the two configs, in one order."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    d = y - x
    b_wins, a_wins = int(np.sum((y == 1) & (x == 0))), int(np.sum((y == 0) & (x == 1)))
    discordant = b_wins + a_wins
    p_value = stats.binomtest(b_wins, discordant).pvalue if discordant else 1.0
    return Comparison(
        model=model, a=name_a, b=name_b, n=len(d),
        accuracy_a=float(x.mean()) if len(d) else 0.0,
        accuracy_b=float(y.mean()) if len(d) else 0.0,
        difference=float(d.mean()) if len(d) else 0.0,
        ci=_bootstrap(d), b_wins=b_wins, a_wins=a_wins, p_value=float(p_value),
        needed=questions_needed(0.05, discordant / len(d)) if len(d) else None,
        ci_adjusted=adjusted_wald(a, b) if len(d) else (0.0, 0.0),
    )  # fmt: skip


def adjusted_wald(a: Sequence[float], b: Sequence[float]) -> tuple[float, float]:
    """The 95% CI of accuracy(b) − accuracy(a) on paired questions by Bonett & Price's adjusted
    Wald interval (J. Educ. Behav. Stat. 37(4), 2012): add one pseudo-question to each
    discordant cell, then the Wald interval on n + 2. It keeps its width when no question is
    discordant, where the bootstrap and the plain Wald interval collapse to a point."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n = len(x)
    p_b = (float(np.sum((y == 1) & (x == 0))) + 1) / (n + 2)  # b right, a wrong
    p_a = (float(np.sum((y == 0) & (x == 1))) + 1) / (n + 2)
    diff = p_b - p_a
    half = stats.norm.ppf(0.975) * math.sqrt(max(p_b + p_a - diff**2, 0.0) / (n + 2))
    return (float(max(diff - half, -1.0)), float(min(diff + half, 1.0)))


def _bootstrap(d: np.ndarray, resamples: int = 5000, seed: int = 0) -> tuple[float, float]:
    """The 95% CI of mean(d) by the bootstrap over questions (BCa; the percentile interval
    where BCa is undefined, and a point where every question differs alike)."""
    if len(d) == 0:
        return (0.0, 0.0)
    if np.all(d == d[0]):
        return (float(d[0]), float(d[0]))
    for method in ("BCa", "percentile"):
        result = stats.bootstrap(
            (d,), np.mean, n_resamples=resamples, method=method, random_state=seed
        )
        low, high = result.confidence_interval
        if np.isfinite(low) and np.isfinite(high):
            return (float(low), float(high))
    return (float(d.mean()), float(d.mean()))


def questions_needed(
    delta: float, discordant: float, alpha: float = 0.05, power: float = 0.8
) -> int:
    """Questions a paired comparison needs to find a difference `delta` (a share, e.g. 0.05)
    with probability `power` at level `alpha`, when a share `discordant` of questions are
    answered right by one config and wrong by the other (Connor 1987)."""
    psi = max(discordant, abs(delta))  # discordance at least the difference itself
    z_alpha, z_beta = stats.norm.ppf(1 - alpha / 2), stats.norm.ppf(power)
    root = z_alpha * math.sqrt(psi) + z_beta * math.sqrt(max(psi - delta**2, 0.0))
    return math.ceil(root**2 / delta**2)


def paired(store: Store, reference: str | None = None, task: str | None = None) -> list[Comparison]:
    """Every config of each model against `reference` (default: the model's first config
    stored), on the questions both answered."""
    correct: dict[str, dict[str, dict[str, float]]] = {}  # model → config → question → 1/0
    for row in store.results(task):
        by_config = correct.setdefault(row["model"], {})
        score = 1.0 if row["verdict"] == "correct" else 0.0
        by_config.setdefault(row["config"], {})[f"{row['task']}|{row['question_id']}"] = score
    comparisons = []
    for model, configs in correct.items():
        base = reference if reference in configs else next(iter(configs))
        for config, answers in configs.items():
            if config == base:
                continue
            shared = sorted(set(configs[base]) & set(answers))
            a = [configs[base][q] for q in shared]
            b = [answers[q] for q in shared]
            comparisons.append(compare(a, b, base, config, model))
    return comparisons


def as_dict(comparison: Comparison) -> dict[str, Any]:
    """A comparison for JSON output."""
    return {
        **comparison.__dict__,
        "ci": list(comparison.ci),
        "ci_adjusted": list(comparison.ci_adjusted),
    }
