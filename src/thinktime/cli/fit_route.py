"""`thinktime fit-route`: fit the `route` strategy's routing table from a stored pool.

The table says how many samples to draw for each probe agreement (Snell et al.'s compute-optimal
scaling, `bench/routing.py`); the command prints the `route` parameters that run it.

$ thinktime fit-route --store runs/gsm8k.db -m qwen2.5-coder-0.5b -s self_consistency:n=16
$ thinktime fit-route --store runs/gsm8k.db --json | jq .route.params
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from thinktime.cli.common import (
    AsJson,
    at_least,
    console,
    fail,
    model_option,
    only_model,
    print_json,
    store_option,
    strategy_option,
)
from thinktime.errors import ThinktimeError
from thinktime.render import show_table


def fit_route(
    store: Annotated[str, store_option()],
    model: Annotated[
        str | None, model_option("The pool's model; default: the store's only one.")
    ] = None,
    config: Annotated[
        str, strategy_option("The pool's config, as stored.")
    ] = "self_consistency:n=16",
    probe: Annotated[
        int, typer.Option(help="Samples that probe difficulty (route's probe_n).")
    ] = 4,
    step: Annotated[int | None, typer.Option(help="k grid step (default: the probe).")] = None,
    as_json: AsJson = False,
) -> None:
    """Fit `route`'s routing table (k samples per probe-agreement bin) from a stored pool,
    compare it with uniform k (held-out by cross-fitting); print `route` parameters."""
    from thinktime.bench.replay import load_pools
    from thinktime.bench.routing import bins, compare, savings
    from thinktime.bench.store import Store

    path = Path(store)
    try:
        at_least("--step", step, 1)
        results = Store(path, create=False, readonly=True)
        model = model or only_model(results)
        pools = load_pools(results, model, config)
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

    by_bin = sorted(bins(pools, probe).items(), reverse=True)
    rows = compare(pools, probe, ks)
    saved = savings(pools, probe, ks)
    best = max(rows, key=lambda r: (r.held_out.accuracy, -r.held_out.tokens))
    if as_json:
        print_json(_as_json(model, config, probe, ks, by_bin, rows, saved, best))
        return

    # 1) the bins: questions per probe agreement, and what k samples buy in each
    grid = Table(title=f"{model} · {config} · {len(pools)} questions · probe {probe}")
    grid.add_column("agree", justify="right")
    grid.add_column("questions", justify="right")
    for k in ks:
        grid.add_column(f"maj@{k}", justify="right")
    for agree, members in by_bin:
        cells = [f"{_bin_accuracy(members, k):.0%}" for k in ks]
        grid.add_row(f"{agree}/{probe}", str(len(members)), *cells)
    show_table(console, grid)

    # 2) the fitted routing table vs uniform k at each uniform k's cost
    table = Table(title="compute-optimal routing table vs uniform k (same samples)")
    for column in ("budget tok/q", "uniform", "table (fit)", "table (held-out)", "k per bin"):
        table.add_column(column, justify="right")
    for row in rows:
        table.add_row(
            f"{row.uniform.tokens:.0f}",
            f"k={row.uniform_k}: {row.uniform.accuracy:.1%}",
            f"{row.fitted.accuracy:.1%} @ {row.fitted.tokens:.0f}",
            f"{row.held_out.accuracy:.1%} @ {row.held_out.tokens:.0f}",
            " ".join(f"{a}:{k}" for a, k in sorted(row.table.choice.items(), reverse=True)),
        )
    show_table(console, table)
    if saved:
        console.print(
            f"the table matches the best uniform accuracy with {saved[0]:.0f} tokens/q "
            f"instead of {saved[1]:.0f} ({saved[1] / saved[0]:.2f}× less compute, in-sample)"
        )
    console.print(f"route parameters (budget {best.uniform.tokens:.0f} tok/q):")
    console.print(json.dumps(best.table.route_params()), soft_wrap=True, highlight=False)


def _bin_accuracy(members: Any, k: int) -> float:
    from thinktime.bench.replay import prefix_vote

    return sum(prefix_vote(p, k)[0] for p in members) / len(members)


def _as_json(
    model: str,
    config: str,
    probe: int,
    ks: list[int],
    by_bin: Any,
    rows: Any,
    saved: Any,
    best: Any,
) -> dict[str, Any]:
    """The grid, the table-vs-uniform rows and the route parameters, as `--json` prints them."""
    from dataclasses import asdict

    def choice(table: Any) -> dict[str, int]:
        return {str(a): k for a, k in sorted(table.choice.items(), reverse=True)}

    return {
        "model": model, "config": config, "probe": probe, "ks": ks,
        "bins": [
            {"agree": agree, "questions": len(members),
             "accuracy": {str(k): _bin_accuracy(members, k) for k in ks}}
            for agree, members in by_bin
        ],
        "rows": [
            {"budget_tokens": row.uniform.tokens, "uniform_k": row.uniform_k,
             "uniform": asdict(row.uniform), "fitted": asdict(row.fitted),
             "held_out": asdict(row.held_out), "k_per_bin": choice(row.table)}
            for row in rows
        ],
        "savings": {"table_tokens": saved[0], "uniform_tokens": saved[1]} if saved else None,
        "route": {"budget_tokens": best.uniform.tokens, "params": best.table.route_params()},
    }  # fmt: skip
