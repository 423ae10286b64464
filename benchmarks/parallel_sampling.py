"""Batched vs single vs sequential sampling on the embedded model, as ratios from one run.

Three ways to spend a question's compute, measured back to back on the same engine:
1. `single`      — one CoT sample;
2. `batched`     — self-consistency with n=8 as one request (shared prefill, 8 parallel sequences);
3. `sequential`  — the same 8 samples as 8 one-at-a-time requests (what a naive loop does).

Two length modes, both reported:
- `natural`: samples stop when the model does (real use; a batch waits for its longest sample);
- `fixed`: every sample generates exactly --max-tokens (ignore_eos), isolating the engine's
  batching gain from the luck of sample lengths.
Each cell is the median over --repeats runs with different seeds. Targets on 2 cores:
batched ≤ 4.5× single, and ≥ 1.7× faster than sequential.

    python benchmarks/parallel_sampling.py --repeats 3
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

from rich.console import Console
from rich.table import Table

from thinktime import solve
from thinktime.backends.llamacpp import LlamaCppBackend
from thinktime.prompts import cot_messages
from thinktime.sampling import SamplingParams
from thinktime.types import Request

QUESTION = (
    "A farmer has 3 baskets with 12 apples in each. He sells 10 apples at the market. "
    "How many apples does he have left?"
)
Run = Callable[[int], int]  # seed → completion tokens generated


def natural_runs(backend: LlamaCppBackend, n: int, max_tokens: int) -> dict[str, Run]:
    """The three configs through `thinktime.solve`, exactly as a user would call them."""
    common = {"backend": backend, "max_tokens": max_tokens, "temperature": 0.7}

    def single(seed: int) -> int:
        return solve(QUESTION, strategy="cot", seed=seed, **common).bill.completion_tokens

    def batched(seed: int) -> int:
        result = solve(QUESTION, strategy="self_consistency", n=n, seed=seed, **common)
        return result.bill.completion_tokens

    def sequential(seed: int) -> int:
        return sum(single(seed * 100 + i) for i in range(n))

    return {"single": single, "batched": batched, "sequential": sequential}


def fixed_runs(backend: LlamaCppBackend, n: int, max_tokens: int) -> dict[str, Run]:
    """The same configs on the raw backend, every sample exactly max_tokens long."""
    messages = cot_messages(QUESTION)

    def call(k: int, seed: int) -> int:
        params = SamplingParams(max_tokens=max_tokens, seed=seed, ignore_eos=True)
        [generation] = backend.generate([Request(messages=messages, n=k)], params)
        return sum(c.completion_tokens for c in generation.completions)

    return {
        "single": lambda seed: call(1, seed),
        "batched": lambda seed: call(n, seed),
        "sequential": lambda seed: sum(call(1, seed * 100 + i) for i in range(n)),
    }


def measure(runs: dict[str, Run], repeats: int) -> dict[str, tuple[float, float]]:
    """Median (wall seconds, completion tokens) per config, configs interleaved per repeat."""
    walls: dict[str, list[float]] = {name: [] for name in runs}
    tokens: dict[str, list[float]] = {name: [] for name in runs}
    for repeat in range(repeats):
        for name, run in runs.items():
            started = time.perf_counter()
            tokens[name].append(run(repeat + 1))
            walls[name].append(time.perf_counter() - started)
    return {
        name: (statistics.median(walls[name]), statistics.median(tokens[name])) for name in runs
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qwen2.5-coder-0.5b")
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=256)
    args = parser.parse_args()
    backend = LlamaCppBackend.from_reference(args.model, n_parallel=args.n)
    solve("What is 1+1?", strategy="direct", backend=backend)  # warm-up

    console = Console(width=110)
    table = Table(title=f"parallel sampling · {args.model} · n={args.n} · median of {args.repeats}")
    for column in ("lengths", "config", "wall s", "completion tokens", "tokens/s", "× single"):
        table.add_column(column, justify="right")
    summary = []
    for mode, make in (("natural", natural_runs), ("fixed", fixed_runs)):
        results = measure(make(backend, args.n, args.max_tokens), args.repeats)
        single = results["single"][0]
        for name, (wall, count) in results.items():
            table.add_row(
                mode,
                name,
                f"{wall:.2f}",
                f"{count:.0f}",
                f"{count / wall:.1f}",
                f"{wall / single:.2f}",
            )
        batched, sequential = results["batched"][0], results["sequential"][0]
        summary.append(
            f"{mode}: batched n={args.n} = {batched / single:.2f}× single (target ≤ 4.5); "
            f"sequential / batched = {sequential / batched:.2f}× (target ≥ 1.7)"
        )
    console.print(table)
    for line in summary:
        console.print(line)


if __name__ == "__main__":
    main()
