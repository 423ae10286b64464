"""`route`: compute-optimal routing — spend little on easy questions and more on hard ones.

1) probe: draw `probe_n` samples in one batch and vote;
2) difficulty: the share of the probe agreeing with its majority (high agreement = easy);
3) the routing table maps that agreement to how many more samples to draw: the first row whose
   `min_agreement` the probe reaches gives `extra` samples, drawn in one more batch; then vote
   over all of them.
The default table (stop at ≥ 75 % agreement, +4 samples at ≥ 50 %, +12 below) is a documented
starting point; fit your own from a stored self-consistency pool with
`thinktime fit-route --store STORE -m M` (`bench/routing.py`) and pass the printed parameters.

Reference: Snell et al. 2024, "Scaling LLM Test-Time Compute Optimally can be More Effective
than Scaling Model Parameters", arXiv:2408.03314 (difficulty bins → per-bin strategy).

    >>> from thinktime.backends.fake import FakeBackend
    >>> from thinktime import solve
    >>> easy = solve("2+2?", backend=FakeBackend(["\\\\boxed{4}"]), strategy="route")
    >>> easy.details["difficulty"], easy.details["samples_used"]
    ('easy', 4)
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from thinktime.answers.voting import vote
from thinktime.strategies.base import Context, Outcome, majority, register_strategy

DEFAULT_TABLE = ((0.75, 0, "easy"), (0.5, 4, "medium"), (0.0, 12, "hard"))


class RouteParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    probe_n: int = Field(4, ge=1, le=256, description="Samples in the difficulty probe.")
    table: tuple[tuple[float, int, str], ...] = Field(
        DEFAULT_TABLE,
        description="The routing table: (min_agreement, extra samples, label) rows, highest first.",
    )

    @field_validator("table")
    @classmethod
    def _covers_everything(cls, table: tuple[tuple[float, int, str], ...]) -> tuple:
        for agreement, extra, _ in table:
            if not 0.0 <= agreement <= 1.0:  # also false for NaN
                raise ValueError(f"min_agreement must be within [0, 1], got {agreement}")
            if not 0 <= extra <= 1024:
                raise ValueError(f"extra samples must be within [0, 1024], got {extra}")
        if not table or min(row[0] for row in table) > 0.0:
            raise ValueError(
                "the last table row must have min_agreement 0.0 so every question routes"
            )
        return tuple(sorted(table, key=lambda row: -row[0]))


@register_strategy(
    "route",
    "Probe difficulty by agreement, then spend more samples only on hard questions.",
    "Snell et al. 2024, arXiv:2408.03314",
    RouteParams,
    samples=lambda p: max(p.probe_n, *(extra for _, extra, _ in p.table)),  # probe, then extra
    drawn=lambda p: p.probe_n + max(extra for _, extra, _ in p.table),
    facts=("samples_used", "difficulty"),
)
def route(question: str, ctx: Context, params: RouteParams) -> Outcome:
    # 1) the probe
    samples = ctx.draw(question, params.probe_n)
    _, counts = vote([s.answer for s in samples])
    agreement = max(counts.values(), default=0.0) / len(samples)
    # 2) the table's row for that agreement
    _, extra, label = next(row for row in params.table if agreement >= row[0])
    # 3) the extra samples, if any and affordable, then the final vote over all of them
    if extra and not ctx.exhausted():
        samples += ctx.draw(question, extra)
    details = {"difficulty": label, "agreement": agreement, "samples_used": len(samples)}
    return majority(samples, details)
