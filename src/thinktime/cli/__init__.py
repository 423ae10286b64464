"""The `thinktime` command: thin typer commands over the library, all registered here.

Each module of this package is one command group, written as plain functions: `solve`,
`listing` (models, strategies), `bench` (bench, report), `replay`, `fit_route`, `plan` (estimate,
calibrate), `view`, `export`, `serve`, `distill` (traces, train, grpo, eval). The options they
share — `--store PATH`, `-m/--model`, `-s/--strategy NAME[:PARAM=VALUE,…]`, `--json`,
`--max-tokens` — are declared once, in `common`.

    $ thinktime solve "A farmer has 3 baskets of 12 apples and sells 10. How many are left?" \\
        -s self_consistency:n=4
    $ thinktime bench --task gsm8k --limit 50 -s cot -s self_consistency:n=8 --store runs/g.db
    $ thinktime report --store runs/g.db
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import typer

from thinktime.cli import (
    bench,
    distill,
    export,
    fit_route,
    listing,
    plan,
    replay,
    serve,
    solve,
    view,
)
from thinktime.cli.common import Command, Group, console

ABOUT = "Reason with inference-time compute; every answer carries its compute bill."

# name → function, in the order `thinktime --help` lists them
COMMANDS: dict[str, Callable[..., Any]] = {
    "solve": solve.solve,
    "models": listing.models,
    "strategies": listing.strategies,
    "bench": bench.bench,
    "report": bench.report,
    "replay": replay.replay,
    "fit-route": fit_route.fit_route,
    "view": view.view,
    "export": export.export,
    "serve": serve.serve,
}
# group name → (its help, its commands)
GROUPS: dict[str, tuple[str, dict[str, Callable[..., Any]]]] = {
    "plan": (
        "Plan a deployment: compute, devices, cost and energy for a workload; calibrate this CPU.",
        {"estimate": plan.estimate, "calibrate": plan.calibrate},
    ),
    "distill": (
        "Distil thinking into a small model: traces, SFT, GRPO, before/after.",
        {"traces": distill.traces, "train": distill.train, "grpo": distill.grpo,
         "eval": distill.evaluate},
    ),
}  # fmt: skip


def _typer(about: str) -> typer.Typer:
    return typer.Typer(
        cls=Group,
        help=about,
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )


def _version(value: bool) -> None:
    if value:
        from thinktime import __version__

        console.print(f"thinktime {__version__}")
        raise typer.Exit()


def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Reason with inference-time compute; every answer carries its compute bill."""


def build() -> typer.Typer:
    """The `thinktime` app: every command and group registered, one way."""
    root = _typer(ABOUT)
    root.callback()(_root)
    for name, function in COMMANDS.items():
        root.command(name, cls=Command)(function)
    for name, (about, commands) in GROUPS.items():
        group = _typer(about)
        for sub, function in commands.items():
            group.command(sub, cls=Command)(function)
        root.add_typer(group, name=name)
    return root


app = build()


def main() -> None:
    """The console script `thinktime`."""
    app()
