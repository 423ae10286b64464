"""From stored results to numbers: accuracy with a bootstrap CI, cost per question, verdict
counts, the sweep's throughput, pool curves (maj@k, pass@k for every k), and the Pareto
frontier of accuracy vs cost.

Throughput is what a user plans with: a sweep keeps several questions in flight, so one
question's latency (121 s for a 291-token answer with 17 in flight) says little about the
machine. The sweep's wall time is the time it had questions in flight (the union of every
result's [finished − seconds, finished]; a resumed sweep's pause is not counted); from it come
the engine's tokens per wall second and the wall seconds per question, and, by Little's law,
the mean number of questions in flight (total latency / wall time).

    >>> bootstrap_ci([1, 0, 1, 1], resamples=200, seed=0)
    (0.25, 1.0)
    >>> busy_seconds([(0.0, 10.0), (5.0, 12.0), (20.0, 21.0)])
    13.0
"""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from thinktime.bench.configs import pool_size, stored_call
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
    tokens: float  # completion tokens per question (samples and verifier calls)
    flops: float | None
    latency: float  # mean seconds from a question's start to its answer, others in flight
    wall_seconds: float | None  # the sweep's wall time per question (None: not measurable)
    in_flight: float | None  # mean questions in flight over that wall time
    tokens_per_second: float | None  # completion tokens the engine made per wall second
    verdicts: dict[str, int] = field(default_factory=dict)


def busy_seconds(intervals: Iterable[tuple[float, float]]) -> float:
    """Length of the union of (start, end) intervals: the time something was in flight."""
    total, start, end = 0.0, None, None
    for a, b in sorted(intervals):
        if end is None or a > end:
            total += 0.0 if start is None or end is None else end - start
            start, end = a, b
        else:
            end = max(end, b)
    return total + (0.0 if start is None or end is None else end - start)


def _wall(rows: list[dict[str, Any]]) -> float:
    """The wall seconds a group of results had questions in flight (0 when not recorded)."""
    spans = []
    for r in rows:
        if r.get("created") and r["seconds"] is not None:
            end = datetime.fromisoformat(r["created"]).replace(tzinfo=UTC).timestamp()
            spans.append((end - r["seconds"], end))
    return busy_seconds(spans)


def _groups(rows: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["model"], row["config"])].append(row)
    return groups


def _recorded(rows: list[dict[str, Any]]) -> str | None:
    """The call a group's results recorded (schema 8), if any did: its typed params are read
    back as they were validated, not parsed from the config text again."""
    return next((row["call"] for row in rows if row.get("call")), None)


def summarize(store: Store, task: str | None = None) -> list[Summary]:
    summaries = []
    for (model, config), rows in _groups(store.results(task)).items():
        correct = [1.0 if r["verdict"] == "correct" else 0.0 for r in rows]
        flops = [r["flops"] for r in rows]
        seconds = sum(r["seconds"] or 0 for r in rows)
        tokens = sum(r["completion_tokens"] or 0 for r in rows)
        wall = _wall(rows)
        summaries.append(
            Summary(
                model=model,
                config=config,
                n=len(rows),
                accuracy=statistics.fmean(correct),
                ci=bootstrap_ci(correct),
                tokens=tokens / len(rows),
                flops=None if None in flops else statistics.fmean(flops),
                latency=seconds / len(rows),
                wall_seconds=wall / len(rows) if wall else None,
                in_flight=seconds / wall if wall else None,
                tokens_per_second=tokens / wall if wall else None,
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
        size = pool_size(stored_call(config, _recorded(rows)))
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
