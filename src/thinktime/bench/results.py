"""From stored results to numbers: accuracy with a bootstrap CI, cost per question, verdict
counts, pool curves (maj@k, pass@k for every k), and the Pareto frontier of accuracy vs cost.

    >>> bootstrap_ci([1, 0, 1, 1], resamples=200, seed=0)
    (0.25, 1.0)
"""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from thinktime.bench.configs import parse_config, pool_size
from thinktime.bench.grading import VERDICTS
from thinktime.bench.pools import maj_at_k, pass_at_k
from thinktime.bench.store import Store


def bootstrap_ci(
    values: list[float], resamples: int = 1000, seed: int = 0, level: float = 0.95
) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean."""
    if not values:
        return (0.0, 0.0)
    rng = random.Random(seed)
    means = sorted(statistics.fmean(rng.choices(values, k=len(values))) for _ in range(resamples))
    tail = (1 - level) / 2
    return means[int(tail * resamples)], means[min(resamples - 1, int((1 - tail) * resamples))]


@dataclass
class Point:
    """One (model, config[, k]) on an accuracy-vs-compute plot."""

    model: str
    config: str
    k: int | None
    accuracy: float
    tokens: float  # completion tokens per question
    flops: float | None  # FLOPs per question
    ci: tuple[float, float] = (0.0, 0.0)
    pass_at_k: float | None = None


@dataclass
class Summary:
    model: str
    config: str
    n: int
    accuracy: float
    ci: tuple[float, float]
    tokens: float
    flops: float | None
    seconds: float
    overhead: float  # share of wall time outside the engine
    verdicts: dict[str, int] = field(default_factory=dict)


def _groups(rows: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["model"], row["config"])].append(row)
    return groups


def summarize(store: Store, task: str | None = None) -> list[Summary]:
    summaries = []
    for (model, config), rows in _groups(store.results(task)).items():
        correct = [1.0 if r["verdict"] == "correct" else 0.0 for r in rows]
        flops = [r["flops"] for r in rows]
        seconds = sum(r["seconds"] or 0 for r in rows)
        engine = sum(r["engine_seconds"] or 0 for r in rows)
        summaries.append(
            Summary(
                model=model,
                config=config,
                n=len(rows),
                accuracy=statistics.fmean(correct),
                ci=bootstrap_ci(correct),
                tokens=statistics.fmean(r["completion_tokens"] or 0 for r in rows),
                flops=None if None in flops else statistics.fmean(flops),
                seconds=seconds / len(rows),
                overhead=max(0.0, 1 - engine / seconds) if seconds else 0.0,
                verdicts={v: sum(r["verdict"] == v for r in rows) for v in VERDICTS},
            )
        )
    return summaries


def _prefill_share(rows: list[dict[str, Any]]) -> float:
    """The share of a pool's FLOPs spent on its one shared prefill, by token count.

    FLOPs are close to linear in tokens for short contexts, so the split by tokens is close."""
    prompt = sum(r["prompt_tokens"] or 0 for r in rows)
    total = prompt + sum(r["completion_tokens"] or 0 for r in rows)
    return prompt / total if total else 0.0


def pool_cost(total: float, prefill_share: float, k: int, size: int) -> float:
    """Cost of k samples of a pool of `size` that shared one prefill: the prefill once, plus k
    of the size samples' decoding.

        >>> pool_cost(1000.0, 0.2, k=1, size=16)
        250.0
    """
    return total * prefill_share + total * (1 - prefill_share) * k / size


def curve_points(store: Store, task: str | None = None, trials: int = 200) -> list[Point]:
    """One point per single-shot config; one per k = 1, 2, 4, … ≤ N for pool configs."""
    points = []
    for (model, config), rows in _groups(store.results(task)).items():
        strategy, params = parse_config(config)
        size = pool_size(strategy, params)
        correct = [1.0 if r["verdict"] == "correct" else 0.0 for r in rows]
        flops = [r["flops"] for r in rows]
        mean_flops = None if None in flops else statistics.fmean(flops)
        tokens = statistics.fmean(r["completion_tokens"] or 0 for r in rows)
        if not size:
            points.append(
                Point(model, config, None, statistics.fmean(correct), tokens, mean_flops,
                      bootstrap_ci(correct))
            )  # fmt: skip
            continue
        pools = [store.samples(r["id"]) for r in rows]
        prefill = _prefill_share(rows)
        k = 1
        while k <= size:
            maj = [
                maj_at_k(
                    [s["answer"] for s in p], [s["verdict"] == "correct" for s in p], k, trials
                )
                for p in pools
            ]
            passes = [
                pass_at_k(len(p), sum(s["verdict"] == "correct" for s in p), k) for p in pools
            ]
            points.append(
                Point(
                    model, config, k, statistics.fmean(maj), tokens * k / size,
                    None if mean_flops is None else pool_cost(mean_flops, prefill, k, size),
                    bootstrap_ci(maj),
                    statistics.fmean(passes),
                )
            )  # fmt: skip
            k = k * 2 if k * 2 <= size or k == size else size
    return points


def pareto(points: list[Point], cost: str = "tokens") -> list[Point]:
    """Points no other point beats on both accuracy and cost, cheapest first."""
    ranked = sorted(
        (p for p in points if getattr(p, cost) is not None),
        key=lambda p: (getattr(p, cost), -p.accuracy),
    )
    frontier: list[Point] = []
    for point in ranked:
        if not frontier or point.accuracy > frontier[-1].accuracy:
            frontier.append(point)
    return frontier
