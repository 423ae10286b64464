"""Adaptive voting vs fixed n=16 self-consistency, on the same samples.

Reads a bench store that holds a self_consistency:n=16 pool per question and replays
`adaptive_consistency` with several stopping rules on each pool (`thinktime.bench.replay`: the
strategy's own `settled` rule; its samples are the pool's first ones). Prints accuracy, completion
tokens per question and their ratio to n=16, samples used, and the cross-fitted compute-optimal
`route` policy at the same budgets for comparison.

    python benchmarks/adaptive_replay.py docs/results/headline/gsm8k.db \
        --model qwen2.5-coder-0.5b --config self_consistency:n=16
"""

from __future__ import annotations

import argparse
import statistics

from rich.console import Console
from rich.table import Table

from thinktime.bench.policy import compare, uniform
from thinktime.bench.replay import load_pools, prefix_vote, replay_adaptive
from thinktime.bench.results import bootstrap_ci
from thinktime.bench.store import Store
from thinktime.strategies.adaptive_consistency import AdaptiveParams

RULES: dict[str, AdaptiveParams] = {
    "beta 0.95, batch 4 (default)": AdaptiveParams(),
    "beta 0.90, batch 4": AdaptiveParams(threshold=0.90),
    "beta 0.80, batch 4": AdaptiveParams(threshold=0.80),
    "beta 0.95, batch 2": AdaptiveParams(batch=2),
    "window 4, batch 4 (ESC)": AdaptiveParams(rule="window", window=4),
    "window 3, batch 4": AdaptiveParams(rule="window", window=3),
    "window 2, batch 2": AdaptiveParams(rule="window", window=2, batch=2),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--config", default="self_consistency:n=16")
    args = parser.parse_args()
    pools = load_pools(Store(args.store, readonly=True), args.model, args.config)
    if not pools:
        raise SystemExit(f"no {args.model} · {args.config} pools in {args.store}")
    size = min(len(p) for p in pools)
    full = uniform(pools, size)
    console = Console(width=130)
    table = Table(title=f"{args.model} · {len(pools)} questions · replayed on the n={size} pools")
    for column in ("rule", "accuracy [95% CI]", "Δ vs n=16", "tokens/q", "× n=16", "samples/q"):
        table.add_column(column, justify="right")

    def add(name: str, hits: list[float], tokens: float, samples: float) -> None:
        low, high = bootstrap_ci(hits)
        accuracy = statistics.fmean(hits)
        table.add_row(
            name, f"{accuracy:.1%} [{low:.0%}, {high:.0%}]",
            f"{100 * (accuracy - full.accuracy):+.1f} pt", f"{tokens:.0f}",
            f"{tokens / full.tokens:.2f}", f"{samples:.1f}",
        )  # fmt: skip

    for k in (1, 4, size):
        votes = [prefix_vote(pool, k) for pool in pools]
        add(f"fixed n={k}", [float(v[0]) for v in votes], statistics.fmean(v[1] for v in votes), k)
    for name, params in RULES.items():
        runs = [replay_adaptive(pool, params) for pool in pools]
        add(
            f"adaptive: {name}", [float(r[0]) for r in runs],
            statistics.fmean(r[1] for r in runs), statistics.fmean(r[2] for r in runs),
        )  # fmt: skip
    console.print(table)
    policy = Table(title="compute-optimal route policy (probe 4; fitted on half, scored on other)")
    for column in ("budget", "policy held-out", "× n=16 tokens", "k per probe agreement"):
        policy.add_column(column, justify="right")
    for row in compare(pools, 4, list(range(4, size + 1, 4))):
        policy.add_row(
            f"{row.uniform.tokens:.0f}", f"{row.held_out.accuracy:.1%}",
            f"{row.held_out.tokens / full.tokens:.2f}",
            " ".join(f"{a}/4:{k}" for a, k in sorted(row.policy.choice.items(), reverse=True)),
        )  # fmt: skip
    console.print(policy)


if __name__ == "__main__":
    main()
