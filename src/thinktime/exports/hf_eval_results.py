"""Each run as a Hugging Face `.eval_results/` YAML file, the format that shows results on a
model's Hub page and in the benchmark's leaderboard (https://huggingface.co/docs/hub/eval-results).

A file holds a list of results; each is `dataset` (`id`: the benchmark's Hub dataset,
`task_id`), `value` (the score, in percent as the Hub shows it), `date`, and `notes` (how it
was obtained). One variant of a benchmark is one file, so every run (task × config) gets its
own, under `out/<model>/.eval_results/<task>_<config>.yaml`, its notes naming the strategy
(`self_consistency:n=16`), "With tools" where the answers were an agent's, and the cost per
question (the format has no cost fields):

    - dataset:
        id: openai/gsm8k
        task_id: gsm8k
      value: 33.0
      date: '2026-11-29'
      notes: 'thinktime self_consistency:n=16; 4630 completion tokens per question'

A task with no Hub dataset (`jsonl:…`, `reasoning_gym:…`) is named by its thinktime name; edit
`id` to the benchmark's dataset before opening a pull request on the model's repo.

    $ thinktime export --store runs/gsm8k.db --format hf-eval-results --out hf/
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from thinktime.bench.results import summarize
from thinktime.bench.store import Store
from thinktime.exports.base import (
    HUB_DATASETS,
    Run,
    register_export,
    run_rows,
    runs,
    slug,
    uses_tools,
)


@register_export("hf-eval-results")
def write_hf_eval_results(
    store: Store, out: Path, *, model: str | None = None, config: str | None = None
) -> list[Path]:
    """Every run (of `model`, `config`) as one `.eval_results/*.yaml` file."""
    written = []
    for run in runs(store, model, config):
        folder = out / slug(run.model) / ".eval_results"
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{slug(run.task)}_{slug(run.config)}.yaml"
        path.write_text(yaml.safe_dump([result(store, run)], sort_keys=False, allow_unicode=True))
        written.append(path)
    return written


def result(store: Store, run: Run) -> dict[str, Any]:
    """One run's entry: the benchmark, the accuracy in percent, the date, the notes."""
    summary = next(s for s in summarize(store, run.task) if (s.model, s.config) == run[1:])
    rows = run_rows(store, run)
    notes = [f"thinktime {run.config}"]
    if uses_tools(store, run):
        notes.append("With tools")
    notes.append(f"{summary.tokens:.0f} completion tokens per question")
    last = max((r["created"] or "" for r in rows), default="")
    entry: dict[str, Any] = {
        "dataset": {"id": HUB_DATASETS.get(run.task, run.task), "task_id": run.task},
        "value": round(100 * summary.accuracy, 2),
    }
    if last:
        entry["date"] = last[:10]
    entry["notes"] = "; ".join(notes)
    return entry
