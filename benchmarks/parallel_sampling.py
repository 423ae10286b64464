"""Batched vs single vs sequential sampling on the embedded model, as ratios from one run.

Three ways to spend a question's compute, measured back to back on the same engine:
1. `single`      — one CoT sample;
2. `batched n=8` — self-consistency with n=8 as one request (shared prefill, 8 parallel sequences);
3. `sequential`  — the same 8 samples as 8 one-at-a-time requests (what a naive loop does).
Each is repeated `--repeats` times (different seeds); medians are reported. Targets on 2 cores:
batched ≤ 4.5× single, and ≥ 1.7× faster than sequential.

    python benchmarks/parallel_sampling.py --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time

from rich.console import Console
from rich.table import Table

from thinktime import solve
from thinktime.backends.llamacpp import LlamaCppBackend

QUESTION = (
    "A farmer has 3 baskets with 12 apples in each. He sells 10 apples at the market. "
    "How many apples does he have left?"
)


def timed(fn) -> tuple[float, int]:
    """Wall seconds and completion tokens of one run of `fn` (which returns Results)."""
    started = time.perf_counter()
    results = fn()
    return time.perf_counter() - started, sum(r.bill.completion_tokens for r in results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=256)
    args = parser.parse_args()
    backend = LlamaCppBackend.from_reference(args.model, n_parallel=args.n)
    common = {"backend": backend, "max_tokens": args.max_tokens, "temperature": 0.7}
    solve("What is 1+1?", strategy="direct", backend=backend)  # warm-up: first decode is slower

    configs = {
        "single (1 CoT sample)": lambda seed: [
            solve(QUESTION, strategy="cot", seed=seed, **common)
        ],
        f"batched (self_consistency n={args.n})": lambda seed: [
            solve(QUESTION, strategy="self_consistency", n=args.n, seed=seed, **common)
        ],
        f"sequential ({args.n} single requests)": lambda seed: [
            solve(QUESTION, strategy="cot", seed=seed * 100 + i, **common) for i in range(args.n)
        ],
    }
    walls: dict[str, list[float]] = {name: [] for name in configs}
    tokens: dict[str, list[int]] = {name: [] for name in configs}
    for repeat in range(args.repeats):
        for name, run in configs.items():
            wall, count = timed(lambda run=run: run(repeat + 1))
            walls[name].append(wall)
            tokens[name].append(count)

    table = Table(title=f"parallel sampling · {args.model} · median of {args.repeats}")
    for column in ("config", "wall s", "completion tokens", "tokens/s", "× single"):
        table.add_column(column, justify="right")
    single = statistics.median(walls["single (1 CoT sample)"])
    for name in configs:
        wall = statistics.median(walls[name])
        count = statistics.median(tokens[name])
        table.add_row(
            name, f"{wall:.2f}", f"{count:.0f}", f"{count / wall:.1f}", f"{wall / single:.2f}"
        )
    console = Console()
    console.print(table)
    batched = statistics.median(walls[f"batched (self_consistency n={args.n})"])
    sequential = statistics.median(walls[f"sequential ({args.n} single requests)"])
    console.print(
        f"batched n={args.n} = {batched / single:.2f}× single (target ≤ 4.5); "
        f"sequential / batched = {sequential / batched:.2f}× (target ≥ 1.7)"
    )


if __name__ == "__main__":
    main()
