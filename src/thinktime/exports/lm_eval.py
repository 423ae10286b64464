"""Each run in lm-evaluation-harness's results layout, so tools that read lm-eval output read
thinktime runs: `results_<config>.json` (`results.<task>["acc,none"]`, `["acc_stderr,none"]`, …;
named `results_<task>_<config>.json` where a model's runs span several tasks) and
`samples_<task>_<config>.jsonl` (one line per question: `doc_id`, `target`, `resps`,
`filtered_resps`, `acc`) under `out/<model>/`, with thinktime's cost fields added under
`thinktime_*` names. `thinktime export --format lm-eval` and `thinktime view --export` write it.

`acc_stderr` is lm-eval's: the sample standard deviation over √n. Keys are "metric,filter" with
the filter `none`, as lm-eval ≥ 0.4 writes them.

    >>> stderr([1.0, 0.0, 1.0, 0.0])
    0.288675...
"""

from __future__ import annotations

import json
import math
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from thinktime.bench.results import summarize
from thinktime.bench.store import Store
from thinktime.exports.base import Run, register_export, run_rows, runs, slug


def stderr(values: list[float]) -> float:
    """lm-eval's `mean_stderr`: sample standard deviation / √n (0 for fewer than two values)."""
    return statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0


def results_document(store: Store, task: str, model: str, config: str) -> dict[str, Any]:
    """The `results_*.json` document of one run."""
    summary = next(s for s in summarize(store, task) if (s.model, s.config) == (model, config))
    rows = run_rows(store, Run(task, model, config))
    correct = [1.0 if r["verdict"] == "correct" else 0.0 for r in rows]
    metrics: dict[str, Any] = {
        "alias": task,
        "acc,none": summary.accuracy,
        "acc_stderr,none": stderr(correct),
        "thinktime_acc_ci95,none": list(summary.ci),
        "thinktime_completion_tokens_per_question,none": summary.tokens,
        "thinktime_flops_per_question,none": summary.flops,
        "thinktime_seconds_per_question,none": summary.latency,
        **{f"thinktime_{v},none": count for v, count in summary.verdicts.items()},
    }
    return {
        "results": {task: metrics},
        "group_subtasks": {task: []},
        "configs": {task: {"task": task, "output_type": "generate_until", "metric_list": [
            {"metric": "acc", "aggregation": "mean", "higher_is_better": True}]}},
        "versions": {task: "thinktime"},
        "n-shot": {task: 0},
        "higher_is_better": {task: {"acc": True}},
        "n-samples": {task: {"original": len(rows), "effective": len(rows)}},
        "config": {"model": "thinktime", "model_args": f"model={model},config={config}",
                   "batch_size": None, "limit": None},
        "model_name": model,
        "thinktime": {"model": model, "config": config, "strategy": rows[0]["strategy"],
                      "store": str(store.path)},
        "date": datetime.now(UTC).timestamp(),
    }  # fmt: skip


def samples_lines(store: Store, task: str, model: str, config: str) -> list[dict[str, Any]]:
    """The `samples_*.jsonl` records of one run, one per question."""
    lines = []
    # doc_id is the question's place in question order
    for doc_id, row in enumerate(run_rows(store, Run(task, model, config))):
        texts = [s["text"] for s in store.samples(row["id"])]
        lines.append(
            {
                "doc_id": doc_id,
                "doc": {"question_id": row["question_id"], "answer": row["gold"]},
                "target": row["gold"],
                "arguments": [],
                "resps": [texts],
                "filtered_resps": [row["answer"]],
                "filter": "none",
                "metrics": ["acc"],
                "acc": 1.0 if row["verdict"] == "correct" else 0.0,
                "thinktime_verdict": row["verdict"],
                **{f"thinktime_{k}": row.get(k) for k in (
                    "prompt_tokens", "completion_tokens", "reasoning_tokens", "verifier_tokens",
                    "flops", "seconds")},
            }
        )  # fmt: skip
    return lines


def write_run(
    store: Store, task: str, model: str, config: str, out: Path, *, named_by_task: bool = False
) -> list[Path]:
    """Write one run's two files under `out/<model>/`; returns their paths. `named_by_task`
    puts the task in the results file's name too (`results_<task>_<config>.json`), for a model
    whose runs span several tasks."""
    folder = out / slug(model)
    folder.mkdir(parents=True, exist_ok=True)
    name = slug(config)
    results = folder / f"results_{f'{slug(task)}_' if named_by_task else ''}{name}.json"
    samples = folder / f"samples_{slug(task)}_{name}.jsonl"
    results.write_text(json.dumps(results_document(store, task, model, config), indent=2))
    with samples.open("w") as file:
        for line in samples_lines(store, task, model, config):
            file.write(json.dumps(line, ensure_ascii=False) + "\n")
    return [results, samples]


@register_export("lm-eval")
def write_lm_eval(
    store: Store, out: Path, *, model: str | None = None, config: str | None = None
) -> list[Path]:
    """Every run (of `model`, `config`) in lm-eval's layout under `out/<model>/`."""
    chosen = runs(store, model, config)
    written: list[Path] = []
    for run in chosen:
        several = len({r.task for r in chosen if r.model == run.model}) > 1
        written += write_run(store, *run, out, named_by_task=several)
    return written
