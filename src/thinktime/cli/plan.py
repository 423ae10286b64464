"""`thinktime plan estimate`: project compute, devices, cost and energy for a workload;
`thinktime plan calibrate`: measure this CPU.

    $ thinktime plan estimate docs/plan/agents-7b-sc8.yaml --store runs/gsm8k.db --target 0.5
    $ thinktime plan estimate docs/plan/agents-7b-sc8.yaml --json | jq '.rows[] | {hardware}'
    $ thinktime plan calibrate
"""

from __future__ import annotations

from typing import Annotated

import typer

from thinktime.cli.common import AsJson, console, errors, fail, print_json, store_option
from thinktime.errors import ThinktimeError


def estimate(
    workload: Annotated[str, typer.Argument(help="A workload YAML file.")],
    plot: Annotated[str | None, typer.Option(help="Also write a PNG of devices and $/day.")] = None,
    store: Annotated[
        str | None, store_option("With it: the cheapest stored configuration reaching --target.")
    ] = None,
    target: Annotated[
        float | None, typer.Option(help="With --store: accuracy to reach (0-1).")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Project compute, devices, cost and energy for a workload (and, with --store, the
    cheapest stored configuration that reaches --target)."""
    from thinktime.bench.store import Store
    from thinktime.plan.cheapest import cheapest
    from thinktime.plan.planner import make_plan, write_plot
    from thinktime.plan.show import cheapest_table, plan_json, show_plan
    from thinktime.plan.workload import load_workload
    from thinktime.render import show_table

    goal = target if target is not None else 0.0
    try:
        if target is not None and not 0 <= target <= 1:
            raise ThinktimeError(f"--target must be an accuracy from 0 to 1, got {target}")
        the_plan = make_plan(load_workload(workload))
        options = cheapest(Store(store, create=False), the_plan.workload, goal) if store else None
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
        console.print(f"no configuration in {store} reaches {goal:.0%}")


def calibrate() -> None:
    """Measure this CPU with the installed embedded models; write the `cpu` hardware profile."""
    from thinktime.plan.measure import calibrate as measure

    try:
        measure(console, errors)
    except ThinktimeError as exc:
        raise fail(str(exc)) from None
