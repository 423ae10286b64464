"""GSM8K with a calculator tool: one sample per agent step vs voted steps (`tool_vote`).

Runs `gsm8k_tools` through the bench (the same path as `thinktime bench`: every step a `solve`
call, every step stored with its candidates, vote and bill) for two configs on the embedded
model, then reports per config: accuracy with a 95% bootstrap CI, steps per question,
completion tokens per question (every sample of every step), the share of steps where the
vote took another action than the first sample would have, and the runs that ended with a
text answer (the rest stopped looping on the calculator, or at the step limit).

    python benchmarks/agent_tools.py --data-dir ../shared/data --offset 0 --limit 20 \
        --store runs/agent_tools.db

Re-running with the same store resumes (stored questions are skipped).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

from rich.console import Console
from rich.table import Table

from thinktime.backends.base import load_backend
from thinktime.bench.results import bootstrap_ci
from thinktime.bench.runner import run_sweep
from thinktime.bench.store import Store
from thinktime.models.known import DEFAULT_MODEL
from thinktime.strategies import PLAIN
from thinktime.tasks import load_task

CONFIGS = (PLAIN, "tool_vote:n=4,first=2")  # one sample per step; k=4, adaptive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--store", default="runs/agent_tools.db")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--max-tokens", type=int, default=192, help="Per sample.")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.data_dir:
        os.environ["THINKTIME_DATA"] = args.data_dir
    task = load_task("gsm8k_tools", limit=args.limit, offset=args.offset)
    store = Store(args.store)
    backend = load_backend(args.model, hints={"n_parallel": 16})
    started = time.perf_counter()
    run_sweep(task, {args.model: backend}, CONFIGS, store, max_tokens=args.max_tokens,
              seed=args.seed)  # fmt: skip
    wall = time.perf_counter() - started
    ids = {p.id for p in task.problems}
    table = Table(title=f"{args.model} · gsm8k test {args.offset}–{args.offset + args.limit - 1}"
                  f" with a calculator · {wall:.0f} s this run")  # fmt: skip
    for column in ("config", "questions", "accuracy [95% CI]", "steps/q", "tokens/q",
                   "samples/step", "vote changed", "finished"):  # fmt: skip
        table.add_column(column, justify="right")
    for config in CONFIGS:
        rows = [r for r in store.results("gsm8k_tools")
                if r["config"] == config and r["question_id"] in ids]  # fmt: skip
        steps = [s for r in rows for s in store.steps(r["id"])]
        hits = [float(r["verdict"] == "correct") for r in rows]
        low, high = bootstrap_ci(hits)
        changed = statistics.fmean(s["changed"] for s in steps) if steps else 0.0
        # a run finished when its last step answered in text (not a loop, not max steps)
        finished = sum(1 for r in rows if json.loads(store.steps(r["id"])[-1]["calls"]) == [])
        table.add_row(
            config, str(len(rows)),
            f"{statistics.fmean(hits):.1%} [{low:.0%}, {high:.0%}]",
            f"{len(steps) / len(rows):.2f}",
            f"{statistics.fmean(r['completion_tokens'] for r in rows):.0f}",
            f"{statistics.fmean(s['samples'] for s in steps):.2f}",
            f"{changed:.1%}", f"{finished}/{len(rows)}",
        )  # fmt: skip
    Console(width=140).print(table)
    example = next((r for r in store.results("gsm8k_tools") if r["question_id"] in ids), None)
    if example is not None:
        print(
            "first question's steps:",
            json.dumps(
                [(s["action"], json.loads(s["outputs"])) for s in store.steps(example["id"])]
            ),
        )


if __name__ == "__main__":
    main()
