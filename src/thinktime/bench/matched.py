"""Small model thinking longer vs a larger model, at matched FLOPs.

For each point a model reaches (a single-shot config, or k samples of a pool), find the best
accuracy each other model reaches at no more FLOPs per question. Rows go model by model (by
name), each model's points cheapest first.

    >>> from thinktime.bench.results import Point
    >>> pts = [Point("s", "cot", None, 0.27, 290, 3.7e11), Point("s", "sc", 4, 0.36, 1160, 1.3e12),
    ...        Point("L", "cot", None, 0.55, 300, 1.2e12)]
    >>> [(r.model, r.config, r.rival_config, r.rival_accuracy) for r in matched(pts)]
    [('L', 'cot', 'cot', 0.27), ('s', 'cot', None, None), ('s', 'sc@4', 'cot', 0.55)]
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from thinktime.bench.results import Point


@dataclass(frozen=True)
class Matched:
    model: str
    config: str
    accuracy: float
    flops: float
    rival: str
    rival_config: str | None  # the rival's best point within these FLOPs (None: none is cheap)
    rival_accuracy: float | None
    rival_flops: float | None


def _label(point: Point) -> str:
    return point.config if point.k is None else f"{point.config}@{point.k}"


def matched(points: list[Point]) -> list[Matched]:
    """For every point of every model: the best point of each other model within its FLOPs."""
    by_model: dict[str, list[Point]] = defaultdict(list)
    for p in points:
        if p.flops is not None:
            by_model[p.model].append(p)
    rows = []
    for model in sorted(by_model):
        for point in sorted(by_model[model], key=lambda p: p.flops or 0):
            for rival in sorted(by_model):
                if rival == model:
                    continue
                cheaper = [q for q in by_model[rival] if (q.flops or 0) <= (point.flops or 0)]
                best = max(cheaper, key=lambda q: (q.accuracy, -(q.flops or 0)), default=None)
                rows.append(
                    Matched(
                        model, _label(point), point.accuracy, point.flops or 0.0, rival,
                        None if best is None else _label(best),
                        None if best is None else best.accuracy,
                        None if best is None else best.flops,
                    )
                )  # fmt: skip
    return rows
