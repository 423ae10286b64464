"""A plan on the console and as JSON: the workload's compute per day, one row per chip, and,
from bench results, the cheapest configurations that reach an accuracy target.

    >>> from thinktime.plan.planner import make_plan
    >>> from thinktime.plan.workload import Workload
    >>> plan = make_plan(Workload(requests_per_day=1000, model="dense-7b", hardware=["H100"]))
    >>> plan_table(plan).row_count, plan_json(plan)["rows"][0]["hardware"]
    (1, 'H100')
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from pydantic_core import to_jsonable_python
from rich.console import Console
from rich.table import Table

from thinktime.plan.cheapest import Option
from thinktime.plan.planner import Plan
from thinktime.render import show_table, si


def show_plan(console: Console, plan: Plan) -> None:
    """The model, the tokens and FLOPs per day, the training comparison, the chips."""
    w, m = plan.workload, plan.model
    console.print(
        f"[bold]{w.name}[/bold] — {m.name}: {m.params / 1e9:.1f} B parameters, "
        f"{m.active_params / 1e9:.1f} B active, {m.bytes_per_weight:.2g} bytes/weight"
    )
    console.print(
        f"answers/day {w.requests:,.0f} · prompt tokens/day {si(plan.prompt_tokens_per_day)} · "
        f"completion tokens/day {si(plan.completion_tokens_per_day)} · "
        f"FLOPs/day {si(plan.flops_per_day)}"
    )
    if plan.training_flops:
        console.print(
            f"training run (6·N·D) {si(plan.training_flops)} FLOPs = "
            f"{plan.days_to_match_training:,.1f} days of this inference"
        )
    show_table(console, plan_table(plan))


def plan_table(plan: Plan) -> Table:
    """One row per chip: devices, the batch the load needs and what is in flight, decode rate,
    bound, how busy the replicas are, $/day, kWh/day, latency; the caption names the chips
    where one replica cannot keep up even at its largest batch."""
    table = Table(title="which chip")
    table.add_column("hardware", justify="right", no_wrap=True, overflow="fold")
    for column in ("devices", "per replica", "batch", "in flight", "decode tok/s/replica",
                   "bound", "compute-bound share", "utilization", "$/day", "kWh/day",
                   "latency/answer"):  # fmt: skip
        table.add_column(column, justify="right")
    for r in plan.rows:
        in_flight = f"{r.in_flight:,.1f}" if r.in_flight >= 1 else f"{r.in_flight:.2g}"
        table.add_row(
            r.hardware, f"{r.devices:,}", str(r.devices_per_replica), str(r.batch), in_flight,
            f"{r.decode_tokens_per_second:,.0f}", r.bound, f"{r.compute_share:.0%}",
            f"{100 * r.utilization:.2g}%", f"{r.usd_per_day:,.0f}", f"{r.kwh_per_day:,.0f}",
            f"{r.latency_seconds:.1f} s",
        )  # fmt: skip
    crowded = [
        f"{r.hardware} ×{r.replicas:,} (batch ≤ {r.largest_batch})"
        for r in plan.rows
        if r.replicas > 1
    ]
    if crowded:
        table.caption = (
            "more replicas where one cannot keep up even at its largest batch: "
            + ", ".join(crowded)
        )
    return table


def cheapest_table(options: list[Option], target: float) -> Table:
    """The configurations that reach `target`, cheapest first."""
    table = Table(title=f"cheapest configurations reaching {target:.0%} (measured tokens/answer)")
    for column in ("model", "strategy", "accuracy", "hardware", "devices", "$/day"):
        table.add_column(column, justify="right", no_wrap=column in ("model", "strategy"))
    for o in options:
        table.add_row(
            o.model, o.config, f"{o.accuracy:.1%}", o.hardware, f"{o.devices:,}",
            f"{o.usd_per_day:,.0f}",
        )  # fmt: skip
    return table


def plan_json(plan: Plan, options: list[Option] | None = None) -> dict[str, Any]:
    """The plan as JSON-ready data: workload, model profile, per-day totals, rows (and the
    cheapest options when bench results were given)."""
    data = {
        "workload": plan.workload.model_dump(mode="json"),
        "model": asdict(plan.model),
        "answers_per_day": plan.workload.requests,
        "prompt_tokens_per_day": plan.prompt_tokens_per_day,
        "completion_tokens_per_day": plan.completion_tokens_per_day,
        "flops_per_day": plan.flops_per_day,
        "training_flops": plan.training_flops,
        "days_to_match_training": plan.days_to_match_training,
        "rows": [asdict(r) for r in plan.rows],
    }
    if options is not None:
        data["cheapest"] = [asdict(o) for o in options]
    jsonable: dict[str, Any] = to_jsonable_python(data, fallback=repr)
    return jsonable
