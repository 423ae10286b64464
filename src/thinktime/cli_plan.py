"""`thinktime plan`: project compute, devices, cost and energy for a workload; `calibrate`.

$ thinktime plan docs/plan/agents-7b-sc8.yaml --bench runs/gsm8k.db --target 0.5
$ thinktime plan docs/plan/agents-7b-sc8.yaml --json | jq '.rows[] | {hardware, usd_per_day}'
$ thinktime plan calibrate
"""

from __future__ import annotations

from typing import Annotated

import typer

from thinktime.cli_common import console, errors, fail, print_json
from thinktime.errors import ThinktimeError


def plan(
    workload: Annotated[str, typer.Argument(help="A workload YAML file, or `calibrate`.")],
    plot: Annotated[str | None, typer.Option(help="Also write a PNG of devices and $/day.")] = None,
    bench: Annotated[
        str | None, typer.Option(help="Results of `thinktime bench` to choose from.")
    ] = None,
    target: Annotated[
        float | None, typer.Option(help="With --bench: accuracy to reach (0-1).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Project compute, devices, cost and energy for a workload; `calibrate` measures this CPU."""
    from thinktime.bench.store import Store
    from thinktime.plan.cheapest import cheapest
    from thinktime.plan.measure import calibrate
    from thinktime.plan.planner import make_plan, write_plot
    from thinktime.plan.show import cheapest_table, plan_json, show_plan
    from thinktime.plan.workload import load_workload
    from thinktime.render import show_table

    goal = target if target is not None else 0.0
    try:
        if target is not None and not 0 <= target <= 1:
            raise ThinktimeError(f"--target must be an accuracy from 0 to 1, got {target}")
        if workload == "calibrate":  # `thinktime plan calibrate` measures this machine
            calibrate(console, errors)
            return
        the_plan = make_plan(load_workload(workload))
        options = cheapest(Store(bench, create=False), the_plan.workload, goal) if bench else None
    except ThinktimeError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json(plan_json(the_plan, options))
    else:
        show_plan(console, the_plan)
    if plot:
        (errors if as_json else console).print(f"plot: {write_plot(the_plan, plot)}")
    if options is None or as_json:
        return
    if options:
        show_table(console, cheapest_table(options, goal))
    else:
        console.print(f"no configuration in {bench} reaches {goal:.0%}")
