"""Each run as an Every Eval Ever record: EvalEval's shared schema for evaluation results
(`schemas/eval.schema.json`, version 0.3.0, vendored; see `schemas/README.md`), which its
converters also produce from Inspect, HELM and lm-eval logs.

Every run (task × model × config) becomes two files in the datastore's layout,
`out/data/<task>/<developer>/<model>/<uuid>.json` and its `<uuid>_samples.jsonl`:

1) the aggregate record: the model (its Hugging Face id where thinktime knows it), thinktime
   as the evaluation library, and the results — the accuracy with its standard error and 95%
   bootstrap CI, then the cost per question as results of their own, lower being better
   (completion tokens, FLOPs, seconds: the schema's aggregate has no cost fields);
2) the instance-level JSONL, one line per question (`instance_level_eval.schema.json`): the
   question and gold answer, every sample's text, the extracted answer, the verdict, and the
   cost fields the schema has, `token_usage` (prompt, completion and reasoning tokens) and
   `performance.latency_ms`.

The uuid is derived from the store and the run, so exporting again rewrites the same files.

    $ thinktime export --store runs/gsm8k.db --format every-eval-ever --out eee/
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from importlib.resources import files
from pathlib import Path
from typing import Any

from thinktime import __version__
from thinktime.bench.results import summarize
from thinktime.bench.store import Store
from thinktime.exports.base import (
    HUB_DATASETS,
    Run,
    epoch,
    model_identity,
    register_export,
    run_rows,
    runs,
    slug,
)
from thinktime.exports.lm_eval import stderr

SCHEMAS = files("thinktime.exports") / "schemas"
SCHEMA_VERSION = "0.3.0"
# the cost of a question, each a result of its own: (summary field, metric id, unit, what)
COSTS = (
    ("tokens", "completion_tokens_per_question", "tokens",
     "completion tokens per question: every sample, reasoning and verifier call"),
    ("flops", "flops_per_question", "FLOPs", "forward FLOPs per question, prompts included"),
    ("latency", "seconds_per_question", "seconds",
     "seconds from a question's start to its answer"),
)  # fmt: skip


def schema(name: str = "eval") -> dict[str, Any]:
    """The vendored schema: `eval` (the aggregate) or `instance_level_eval` (the JSONL lines)."""
    loaded: dict[str, Any] = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    return loaded


@register_export("every-eval-ever")
def write_every_eval_ever(
    store: Store, out: Path, *, model: str | None = None, config: str | None = None
) -> list[Path]:
    """Every run (of `model`, `config`) as a record and its samples under `out/data/`."""
    written: list[Path] = []
    for run in runs(store, model, config):
        rows = run_rows(store, run)
        who = model_identity(run.model)
        # 1) the datastore's place: data/<task>/<developer>/<model>/<uuid>{.json,_samples.jsonl}
        where = Path("data", slug(run.task), slug(who.developer), slug(who.id.split("/")[-1]))
        folder = out / where
        folder.mkdir(parents=True, exist_ok=True)
        name = _uuid(store, run)
        evaluation_id = f"{run.task}/{who.id}/{run.config}"
        # 2) the samples first: the record holds their checksum
        samples = folder / f"{name}_samples.jsonl"
        lines = [_instance(store, run, row, evaluation_id, who.id) for row in rows]
        samples.write_text("".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
        # 3) the record, pointing at them
        record = _record(store, run, rows, evaluation_id)
        record["detailed_evaluation_results"] = {
            "format": "jsonl", "file_path": f"{where.as_posix()}/{samples.name}",
            "hash_algorithm": "sha256", "total_rows": len(lines),
            "checksum": hashlib.sha256(samples.read_bytes()).hexdigest(),
        }  # fmt: skip
        aggregate = folder / f"{name}.json"
        aggregate.write_text(json.dumps(record, indent=2, ensure_ascii=False))
        written += [aggregate, samples]
    return written


def _uuid(store: Store, run: Run) -> uuid.UUID:
    """The run's file name: a version-4 UUID (as the datastore requires) drawn from the store's
    path and the run, so exporting again rewrites the same files."""
    digest = hashlib.sha256(repr((os.path.abspath(store.path), *run)).encode()).digest()
    return uuid.UUID(bytes=digest[:16], version=4)


def _record(
    store: Store, run: Run, rows: list[dict[str, Any]], evaluation_id: str
) -> dict[str, Any]:
    """The aggregate record of one run."""
    summary = next(s for s in summarize(store, run.task) if (s.model, s.config) == run[1:])
    who = model_identity(run.model)
    correct = [1.0 if r["verdict"] == "correct" else 0.0 for r in rows]
    hub = HUB_DATASETS.get(run.task)
    source = (
        {"dataset_name": run.task, "source_type": "hf_dataset", "hf_repo": hub,
         "samples_number": len(rows), "sample_ids": [r["question_id"] for r in rows]}
        if hub else {"dataset_name": run.task, "source_type": "other"}
    )  # fmt: skip
    generation = {
        "generation_args": {"reasoning": True},
        "additional_details": {"strategy": rows[0]["strategy"], "config": run.config,
                               "params": _text(rows[0]["params"])},
    }  # fmt: skip
    when = epoch(max(r["created"] or "" for r in rows) or None)
    accuracy = {
        "evaluation_result_id": f"{run.task}/{run.config}/accuracy",
        "evaluation_name": run.task,
        "source_data": source,
        "evaluation_timestamp": when,
        "metric_config": {
            "evaluation_description": f"accuracy of thinktime's {run.config} on {run.task}",
            "metric_id": "accuracy", "metric_name": "Accuracy", "metric_kind": "accuracy",
            "metric_unit": "proportion", "lower_is_better": False,
            "score_type": "continuous", "min_score": 0.0, "max_score": 1.0,
        },
        "score_details": {
            "score": summary.accuracy,
            "details": {k: str(v) for k, v in summary.verdicts.items()},
            "uncertainty": {
                "standard_error": {"value": stderr(correct), "method": "analytic"},
                "confidence_interval": {"lower": summary.ci[0], "upper": summary.ci[1],
                                        "confidence_level": 0.95, "method": "bootstrap"},
                "num_samples": len(rows), "num_bootstrap_samples": 1000,
            },
        },
        "generation_config": generation,
    }  # fmt: skip
    costs = [
        {
            "evaluation_result_id": f"{run.task}/{run.config}/{metric}",
            "evaluation_name": f"{run.task} cost",
            "source_data": source,
            "evaluation_timestamp": when,
            "metric_config": {
                "evaluation_description": what, "metric_id": f"thinktime.{metric}",
                "metric_name": metric.replace("_", " "), "metric_kind": "cost",
                "metric_unit": unit, "lower_is_better": True, "score_type": "continuous",
                "min_score": 0.0, "max_score": "Infinity",
            },
            "score_details": {"score": value, "uncertainty": {"num_samples": len(rows)}},
            "generation_config": generation,
        }
        for field, metric, unit, what in COSTS
        if (value := getattr(summary, field)) is not None
    ]  # fmt: skip
    return {
        "schema_version": SCHEMA_VERSION,
        "evaluation_id": evaluation_id,
        "evaluation_timestamp": when,
        "retrieved_timestamp": epoch(None),
        "source_metadata": {
            "source_name": "thinktime bench", "source_type": "evaluation_run",
            "source_organization_name": "thinktime", "evaluator_relationship": "third_party",
            "additional_details": {"store": str(store.path)},
        },
        "eval_library": {"name": "thinktime", "version": __version__},
        "model_info": {
            "name": run.model, "id": who.id, "developer": who.developer,
            **({"inference_engine": {"name": who.engine}} if who.engine else {}),
            "additional_details": {
                "deployment_type": "self_deployed" if who.self_deployed else "externally_managed",
                "model_availability": {True: "open_weights", False: "closed_weights",
                                       None: "unknown"}[who.open_weights],
                "thinktime_model": run.model,
            },
        },
        "evaluation_results": [accuracy, *costs],
    }  # fmt: skip


def _instance(
    store: Store, run: Run, row: dict[str, Any], evaluation_id: str, model_id: str
) -> dict[str, Any]:
    """One question's instance-level line."""
    prompt, completion = row["prompt_tokens"] or 0, row["completion_tokens"] or 0
    texts = [s["text"] or "" for s in store.samples(row["id"])]
    return {
        "schema_version": SCHEMA_VERSION,
        "evaluation_id": evaluation_id,
        "model_id": model_id,
        "evaluation_name": run.task,
        "evaluation_result_id": f"{run.task}/{run.config}/accuracy",
        "sample_id": row["question_id"],
        "interaction_type": "single_turn",
        "input": {"raw": row.get("question") or row["question_id"],
                  "reference": [row["gold"]] if row["gold"] is not None else []},
        "output": {"raw": texts},
        "answer_attribution": [{
            "turn_idx": 0, "source": "output.raw", "extracted_value": row["answer"] or "",
            "extraction_method": f"thinktime {row['strategy']}", "is_terminal": True,
        }],
        "evaluation": {"score": 1.0 if row["verdict"] == "correct" else 0.0,
                       "is_correct": row["verdict"] == "correct"},
        "token_usage": {"input_tokens": prompt, "output_tokens": completion,
                        "total_tokens": prompt + completion,
                        "reasoning_tokens": row["reasoning_tokens"]},
        "performance": {
            "latency_ms": (row["seconds"] or 0.0) * 1000,
            "additional_details": {k: str(row[k]) for k in ("flops", "verifier_tokens")
                                   if row.get(k) is not None},
        },
        "metadata": {"verdict": row["verdict"], "samples": str(len(texts))},
    }  # fmt: skip


def _text(params: object) -> str:
    return params if isinstance(params, str) else json.dumps(params)
