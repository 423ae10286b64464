"""One run in lm-evaluation-harness's results layout, so tools that read lm-eval output can read
thinktime runs: `results_<run>.json` (`results.<task>["acc,none"]`, `["acc_stderr,none"]`, …) and
`samples_<task>_<run>.jsonl` (one line per question: `doc_id`, `target`, `resps`,
`filtered_resps`, `acc`), with thinktime's cost fields added under `thinktime_*` names.

`acc_stderr` is lm-eval's: the sample standard deviation over √n. Keys are "metric,filter" with
the filter `none`, as lm-eval ≥ 0.4 writes them.

    >>> stderr([1.0, 0.0, 1.0, 0.0])
    0.288675...
"""

from __future__ import annotations

import json
import math
import re
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from thinktime.bench.results import summarize
from thinktime.bench.store import Store
from thinktime.view.questions import natural


def stderr(values: list[float]) -> float:
    """lm-eval's `mean_stderr`: sample standard deviation / √n (0 for fewer than two values)."""
    return statistics.stdev(values) / math.sqrt(len(values)) if len(values) > 1 else 0.0


def results_document(store: Store, task: str, model: str, config: str) -> dict[str, Any]:
    """The `results_*.json` document of one run."""
    summary = next(s for s in summarize(store, task) if (s.model, s.config) == (model, config))
    rows = _rows(store, task, model, config)
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
    for doc_id, row in enumerate(_rows(store, task, model, config)):
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


def _rows(store: Store, task: str, model: str, config: str) -> list[dict[str, Any]]:
    """The run's results in question order (`doc_id` is the place in it)."""
    rows = store.query(
        "SELECT * FROM results WHERE task = ? AND model = ? AND config = ?", (task, model, config)
    )
    return sorted(rows, key=lambda r: natural(r["question_id"]))


def slug(text: str) -> str:
    """A file-safe model or config name: `self_consistency:n=16` → `self_consistency_n-16`."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text.replace("=", "-")).strip("_")


def write_run(store: Store, task: str, model: str, config: str, out: Path) -> list[Path]:
    """Write one run's two files under `out/<model>/`; returns their paths."""
    folder = out / slug(model)
    folder.mkdir(parents=True, exist_ok=True)
    name = slug(config)
    results = folder / f"results_{name}.json"
    samples = folder / f"samples_{slug(task)}_{name}.jsonl"
    results.write_text(json.dumps(results_document(store, task, model, config), indent=2))
    with samples.open("w") as file:
        for line in samples_lines(store, task, model, config):
            file.write(json.dumps(line, ensure_ascii=False) + "\n")
    return [results, samples]
