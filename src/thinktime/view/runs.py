"""The Runs page's data: one row per (task, model, config) and the accuracy-vs-cost curves.

Rows and points come from the bench's own code (`summarize`, `curve_points`, `pareto`), so the
viewer's accuracy, CI and costs are the numbers `thinktime report` prints. A run's `id` is its
place in (task, model, config) order, which the other routes take as `run=`.

    >>> from thinktime.bench.store import Store
    >>> store = Store(":memory:")
    >>> store.add({"task": "toy", "question_id": "toy/0", "model": "m", "config": "cot",
    ...            "strategy": "cot", "params": {}, "gold": "4", "answer": "4",
    ...            "verdict": "correct", "completion_tokens": 9}, [])
    >>> [(r.id, r.config, r.n, r.accuracy) for r in runs(store)]
    [(0, 'cot', 1, 1.0)]
"""

from __future__ import annotations

from dataclasses import asdict

from pydantic import BaseModel

from thinktime.bench.results import Point, curve_points, pareto, summarize
from thinktime.bench.store import Store


class Run(BaseModel):
    """One (task, model, config): its accuracy with the 95% bootstrap CI and cost per question."""

    id: int
    task: str
    model: str
    config: str
    strategy: str
    n: int  # questions answered
    accuracy: float
    ci: tuple[float, float]
    tokens: float  # completion tokens per question (samples and verifier calls)
    flops: float | None  # FLOPs per question
    seconds: float  # mean seconds per question (others in flight)
    verdicts: dict[str, int]  # correct / wrong / unparseable / empty / truncated


class CurvePoint(BaseModel):
    """A point of accuracy vs cost: a single-shot config, or a pool config at k samples."""

    run: int
    task: str
    model: str
    config: str
    k: int | None
    accuracy: float  # maj@k for a pool
    ci: tuple[float, float]
    pass_at_k: float | None
    tokens: float
    flops: float | None
    pareto_tokens: bool  # on the frontier of accuracy vs tokens (per task)
    pareto_flops: bool


def _keys(store: Store) -> list[tuple[str, str, str, str]]:
    rows = store.query(
        "SELECT task, model, config, min(strategy) AS strategy FROM results "
        "GROUP BY task, model, config ORDER BY task, model, config"
    )
    return [(r["task"], r["model"], r["config"], r["strategy"]) for r in rows]


def run_keys(store: Store) -> list[tuple[str, str, str]]:
    """(task, model, config) of every run, in run-id order."""
    return [(task, model, config) for task, model, config, _ in _keys(store)]


def runs(store: Store) -> list[Run]:
    keys = _keys(store)
    found = []
    for task in sorted({k[0] for k in keys}):
        for s in summarize(store, task):
            index = next(
                i for i, k in enumerate(keys) if k[:3] == (task, s.model, s.config)
            )  # fmt: skip
            found.append(
                Run(id=index, task=task, model=s.model, config=s.config, strategy=keys[index][3],
                    n=s.n, accuracy=s.accuracy, ci=s.ci, tokens=s.tokens, flops=s.flops,
                    seconds=s.latency, verdicts=s.verdicts)
            )  # fmt: skip
    return sorted(found, key=lambda r: r.id)


def curves(store: Store) -> list[CurvePoint]:
    keys = run_keys(store)
    found = []
    for task in sorted({k[0] for k in keys}):
        points = curve_points(store, task)
        frontier = {cost: {id(p) for p in pareto(points, cost)} for cost in ("tokens", "flops")}
        for p in points:
            found.append(_point(keys.index((task, p.model, p.config)), task, p, frontier))
    return found


def _point(run: int, task: str, p: Point, frontier: dict[str, set[int]]) -> CurvePoint:
    fields = asdict(p)
    return CurvePoint(
        run=run, task=task, **{k: fields[k] for k in ("model", "config", "k", "accuracy", "ci")},
        pass_at_k=p.pass_at_k, tokens=p.tokens, flops=p.flops,
        pareto_tokens=id(p) in frontier["tokens"], pareto_flops=id(p) in frontier["flops"],
    )  # fmt: skip
