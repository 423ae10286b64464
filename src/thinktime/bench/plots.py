"""Accuracy-vs-compute plots: one line per model × strategy (pool configs trace their k-curve),
log-scaled cost axis, the Pareto frontier dashed.

    >>> from thinktime.bench.results import Point
    >>> path = plot([Point("m", "cot", None, 0.4, 200.0, 1e11)], "tokens", "/tmp/tt_plot.png")
    >>> path.endswith(".png")
    True
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from thinktime.bench.results import Point, pareto

LABELS = {"tokens": "completion tokens per question", "flops": "FLOPs per question"}


def plot(points: list[Point], cost: str, path: str | Path, title: str = "") -> str:
    """Write a PNG of accuracy vs `cost` ("tokens" or "flops") and return its path."""
    figure, axes = _figure()
    lines: dict[tuple[str, str], list[Point]] = defaultdict(list)
    for point in points:
        if getattr(point, cost) is not None:
            lines[(point.model, point.config)].append(point)
    for (model, config), line in lines.items():
        line.sort(key=lambda p: getattr(p, cost))
        xs = [getattr(p, cost) for p in line]
        ys = [100 * p.accuracy for p in line]
        axes.plot(xs, ys, marker="o", label=f"{model} · {config}")
        for p, x, y in zip(line, xs, ys, strict=True):
            if p.k is not None:
                axes.annotate(
                    f"k={p.k}", (x, y), textcoords="offset points", xytext=(3, 4), fontsize=7
                )
    frontier = pareto(points, cost)
    if len(frontier) > 1:
        axes.plot(
            [getattr(p, cost) for p in frontier], [100 * p.accuracy for p in frontier],
            linestyle="--", color="black", linewidth=1, label="Pareto frontier",
        )  # fmt: skip
    return _finish(figure, axes, cost, path, title)


def plot_models(points: list[Point], path: str | Path, title: str = "") -> str:
    """Small vs large: each model's accuracy-vs-FLOPs frontier (over all its configs) as one
    line with 95% CI bars, so equal-FLOPs comparisons read off vertically."""
    figure, axes = _figure()
    models: dict[str, list[Point]] = defaultdict(list)
    for point in points:
        if point.flops is not None:
            models[point.model].append(point)
    for model, mine in sorted(models.items()):
        frontier = pareto(mine, "flops")
        xs = [p.flops or 0.0 for p in frontier]
        ys = [100 * p.accuracy for p in frontier]
        errors = [
            [100 * (p.accuracy - p.ci[0]) for p in frontier],
            [100 * (p.ci[1] - p.accuracy) for p in frontier],
        ]
        axes.errorbar(xs, ys, yerr=errors, marker="o", capsize=3, label=model)
        for p, x, y in zip(frontier, xs, ys, strict=True):
            label = p.config if p.k is None else f"{p.config.split(':')[0]}@{p.k}"
            axes.annotate(label, (x, y), textcoords="offset points", xytext=(4, -10), fontsize=7)
    return _finish(figure, axes, "flops", path, title)


def _figure() -> tuple[Any, Any]:
    """A blank figure on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=(7, 4.5), dpi=120)


def _finish(figure: Any, axes: Any, cost: str, path: str | Path, title: str) -> str:
    """Log cost axis, labels, grid, legend; save the PNG and free the figure."""
    import matplotlib.pyplot as plt

    axes.set_xscale("log")
    axes.set_xlabel(LABELS[cost] + " (log)")
    axes.set_ylabel("accuracy (%)")
    axes.set_title(title)
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return str(path)
