"""`thinktime policy STORE`: fit a compute-optimal sampling policy from a stored pool.

$ thinktime policy runs/gsm8k.db --model qwen2.5-coder-0.5b --config self_consistency:n=16
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from thinktime.cli_common import at_least, console, fail
from thinktime.errors import ThinktimeError
from thinktime.render import show_table


def policy(
    store: Annotated[str, typer.Argument(help="A results file written by `thinktime bench`.")],
    model: Annotated[str, typer.Option(help="The model whose pool to fit on.")],
    config: Annotated[
        str, typer.Option(help="The pool's config, as stored.")
    ] = "self_consistency:n=16",
    probe: Annotated[
        int, typer.Option(help="Samples that probe difficulty (route's probe_n).")
    ] = 4,
    step: Annotated[int | None, typer.Option(help="k grid step (default: the probe).")] = None,
) -> None:
    """Bin questions by the agreement of a probe, pick k samples per bin for each budget, and
    compare with the best uniform k (held-out by cross-fitting); print `route` parameters."""
    from thinktime.bench.policy import bins, compare, savings
    from thinktime.bench.replay import load_pools, prefix_vote
    from thinktime.bench.store import Store

    path = Path(store)
    try:
        at_least("--step", step, 1)
        pools = load_pools(Store(path, create=False, readonly=True), model, config)
    except ThinktimeError as exc:
        raise fail(str(exc)) from None
    if not pools:
        raise fail(
            f"no results for model {model!r} with config {config!r} in {path}; "
            "`thinktime report` lists what is stored"
        )
    size = min(len(p) for p in pools)
    if not 1 <= probe < size:
        raise fail(f"--probe must be between 1 and {size - 1} (the pool holds {size} samples)")
    ks = list(range(probe, size + 1, step or probe))

    # 1) the bins: questions per probe agreement, and what k samples buy in each
    grid = Table(title=f"{model} · {config} · {len(pools)} questions · probe {probe}")
    grid.add_column("agree", justify="right")
    grid.add_column("questions", justify="right")
    for k in ks:
        grid.add_column(f"maj@{k}", justify="right")
    for agree, members in sorted(bins(pools, probe).items(), reverse=True):
        cells = [f"{sum(prefix_vote(p, k)[0] for p in members) / len(members):.0%}" for k in ks]
        grid.add_row(f"{agree}/{probe}", str(len(members)), *cells)
    show_table(console, grid)

    # 2) policy vs uniform at each uniform k's cost
    table = Table(title="compute-optimal policy vs uniform k (same samples)")
    for column in ("budget tok/q", "uniform", "policy (fit)", "policy (held-out)", "k per bin"):
        table.add_column(column, justify="right")
    rows = compare(pools, probe, ks)
    for row in rows:
        table.add_row(
            f"{row.uniform.tokens:.0f}",
            f"k={row.uniform_k}: {row.uniform.accuracy:.1%}",
            f"{row.fitted.accuracy:.1%} @ {row.fitted.tokens:.0f}",
            f"{row.held_out.accuracy:.1%} @ {row.held_out.tokens:.0f}",
            " ".join(f"{a}:{k}" for a, k in sorted(row.policy.choice.items(), reverse=True)),
        )
    show_table(console, table)
    saved = savings(pools, probe, ks)
    if saved:
        console.print(
            f"the policy matches the best uniform accuracy with {saved[0]:.0f} tokens/q "
            f"instead of {saved[1]:.0f} ({saved[1] / saved[0]:.2f}× less compute, in-sample)"
        )
    best = max(rows, key=lambda r: (r.held_out.accuracy, -r.held_out.tokens))
    console.print(f"route parameters (budget {best.uniform.tokens:.0f} tok/q):")
    console.print(json.dumps(best.policy.route_params()), soft_wrap=True, highlight=False)
