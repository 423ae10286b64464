"""Accuracy vs tokens on a fixed GSM8K subset: adaptive voting vs fixed n=16, budget forcing.

Runs each config on the same problems with the embedded 0.5B model and stores every result in a
JSONL file as it completes, so an interrupted run resumes where it stopped. Then prints, per
config: accuracy (correct / problems), mean completion tokens, FLOPs and seconds per question.

Configs (all samples capped at --max-tokens, default 384):
- cot                      one greedy chain of thought (reference)
- self_consistency n=16    16 samples, majority vote
- adaptive_consistency     batches of 4, Beta stopping rule at 0.95, at most 16 (run for real),
                           and the same rule replayed on each stored n=16 pool (same samples)
- budget_forcing@128/@384  thinking cut at 128 / 384 tokens, answer forced

    python benchmarks/gsm8k_compute.py --limit 100 --out docs/results/gsm8k_compute.jsonl
"""

from __future__ import annotations

import argparse
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from thinktime import solve
from thinktime.answers.equivalence import equivalent
from thinktime.backends.llamacpp import LlamaCppBackend
from thinktime.tasks import Problem, gsm8k

# name → (solve keyword arguments, questions run at once so the engine's slots stay busy)
CONFIGS: dict[str, tuple[dict[str, Any], int]] = {
    "cot": ({"strategy": "cot"}, 8),
    "budget_forcing@128": ({"strategy": "budget_forcing", "max_thinking_tokens": 128}, 8),
    "budget_forcing@384": ({"strategy": "budget_forcing", "max_thinking_tokens": 384}, 8),
    "self_consistency n=16": ({"strategy": "self_consistency", "n": 16}, 1),
    "adaptive_consistency": ({"strategy": "adaptive_consistency", "max_n": 16, "batch": 4}, 4),
}
REPLAY = "adaptive (replayed on the n=16 pool)"


def load_done(path: Path) -> dict[tuple[str, str], dict]:
    done = {}
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:  # a line cut by a crash: ignore, it is redone
                continue
            done[(row["config"], row["id"])] = row
    return done


def summarize(rows: list[dict], configs: list[str], console: Console) -> None:
    table = Table(
        title=f"GSM8K test · {len({r['id'] for r in rows})} problems · qwen2.5-coder-0.5b"
    )
    for column in (
        "config",
        "accuracy",
        "tokens/q",
        "× SC16 tokens",
        "GFLOP/q",
        "s/q",
        "samples/q",
    ):
        table.add_column(column, justify="right")
    by_config = {c: [r for r in rows if r["config"] == c] for c in configs}
    base = by_config.get("self_consistency n=16") or []
    base_tokens = sum(r["completion_tokens"] for r in base) / max(len(base), 1)
    for config, got in by_config.items():  # FLOPs and seconds of a replay are pro-rata
        if not got:
            continue
        k = len(got)
        tokens = sum(r["completion_tokens"] for r in got) / k
        table.add_row(
            config,
            f"{sum(r['correct'] for r in got) / k:.1%} ({sum(r['correct'] for r in got)}/{k})",
            f"{tokens:.0f}",
            f"{tokens / base_tokens:.2f}" if base_tokens else "—",
            f"{sum(r['flops'] for r in got) / k / 1e9:.0f}",
            f"{sum(r['seconds'] for r in got) / k:.1f}",
            f"{sum(r['samples'] for r in got) / k:.1f}",
        )
    console.print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/gsm8k/test.jsonl")
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--max-tokens", type=int, default=384)
    parser.add_argument("--out", type=Path, default=Path("docs/results/gsm8k_compute.jsonl"))
    parser.add_argument("--config", action="append", choices=list(CONFIGS), help="default: all")
    args = parser.parse_args()
    configs = args.config or list(CONFIGS)
    problems = gsm8k.load(args.data, limit=args.limit).problems
    backend = LlamaCppBackend.from_reference("qwen2.5-coder-0.5b", n_parallel=16)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    done = load_done(args.out)
    lock = threading.Lock()
    console = Console(width=120)

    with args.out.open("a") as sink, Progress(console=console) as progress:
        for config in configs:
            kwargs, concurrency = CONFIGS[config]
            todo = [p for p in problems if (config, p.id) not in done]
            task = progress.add_task(
                config, total=len(problems), completed=len(problems) - len(todo)
            )

            def run(
                problem: Problem,
                config: str = config,
                kwargs: dict = kwargs,
                task: Any = task,
            ) -> None:
                result = solve(
                    problem.question, backend=backend, max_tokens=args.max_tokens, seed=0, **kwargs
                )
                row = {
                    "config": config,
                    "id": problem.id,
                    "gold": problem.gold,
                    "answer": result.answer,
                    "correct": equivalent(result.answer, problem.gold),
                    "completion_tokens": result.bill.completion_tokens,
                    "prompt_tokens": result.bill.prompt_tokens,
                    "flops": result.bill.flops,
                    "seconds": result.bill.seconds,
                    "samples": len(result.samples),
                    "details": {
                        k: v
                        for k, v in result.details.items()
                        if k in ("samples_used", "thinking_tokens", "waits", "cut")
                    },
                    # every sample's answer and tokens, so pool curves can be derived later
                    "pool": [[s.answer, s.completion_tokens] for s in result.samples],
                }
                with lock:  # one whole line per result, flushed: a crash loses only work in flight
                    sink.write(json.dumps(row) + "\n")
                    sink.flush()
                    done[(config, problem.id)] = row
                progress.advance(task)

            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(run, todo))
    rows = [r for r in done.values() if r["id"] in {p.id for p in problems}]
    rows += replay_adaptive(
        [r for r in rows if r["config"] == "self_consistency n=16" and "pool" in r]
    )
    summarize(rows, [*configs, REPLAY], console)


def replay_adaptive(pool_rows: list[dict], batch: int = 4, threshold: float = 0.95) -> list[dict]:
    """adaptive_consistency replayed on each stored n=16 pool (`thinktime.bench.replay`: the
    strategy's own stopping rule, its samples the pool's first ones), so it is measured on the
    same samples as the n=16 baseline (the method of Aggarwal et al. 2023, §4)."""
    from thinktime.bench.replay import Pool
    from thinktime.bench.replay import replay_adaptive as replay
    from thinktime.strategies.adaptive_consistency import AdaptiveParams

    replayed = []
    for row in pool_rows:
        pool = Pool.of([(a, equivalent(a, row["gold"]), t) for a, t in row["pool"]], row["id"])
        params = AdaptiveParams(max_n=len(pool), batch=batch, threshold=threshold)
        correct, tokens, used = replay(pool, params)
        share = used / len(pool)
        replayed.append({
            "config": REPLAY, "id": row["id"], "correct": correct, "completion_tokens": tokens,
            "flops": row["flops"] * share, "seconds": row["seconds"] * share, "samples": used,
        })  # fmt: skip
    return replayed


if __name__ == "__main__":
    main()
