"""The cheapest (model, strategy, hardware) that reaches an accuracy target, from bench results.

Each (model, config) measured by `thinktime bench` with accuracy ≥ target is re-planned for the
workload with its *measured* prompt and completion tokens per answer; the cheapest row wins.

    >>> from thinktime.bench.store import Store
    >>> cheapest(Store(":memory:"), Workload(requests_per_day=1, model="dense-7b"), 0.5)
    []
"""

from __future__ import annotations

from dataclasses import dataclass

from thinktime.bench.results import summarize
from thinktime.bench.store import Store
from thinktime.plan.planner import make_plan
from thinktime.plan.workload import Workload


@dataclass(frozen=True)
class Option:
    model: str
    config: str
    accuracy: float
    hardware: str
    devices: int
    usd_per_day: float


def cheapest(store: Store, workload: Workload, target: float) -> list[Option]:
    """Options reaching `target`, cheapest first (one per model × config, on its best chip)."""
    options = []
    for summary in summarize(store):
        if summary.accuracy < target:
            continue
        rows = store.results()
        mine = [r for r in rows if r["model"] == summary.model and r["config"] == summary.config]
        prompt = sum(r["prompt_tokens"] or 0 for r in mine) / len(mine)
        measured = workload.model_copy(
            update={
                "model": summary.model,
                "prompt_tokens": max(1, round(prompt)),
                "completion_tokens": max(1, round(summary.tokens)),
                "token_multiplier": 1.0,
            }
        )
        best = min(make_plan(measured).rows, key=lambda row: row.usd_per_day)
        options.append(
            Option(summary.model, summary.config, summary.accuracy, best.hardware, best.devices,
                   best.usd_per_day)
        )  # fmt: skip
    return sorted(options, key=lambda o: o.usd_per_day)
