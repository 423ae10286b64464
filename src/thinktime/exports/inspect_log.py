"""A results store as Inspect AI eval logs, so `inspect view` (and Inspect's log reader) opens a
thinktime sweep.

One `.eval` file per run (task × model × strategy config), written with Inspect's own log API
(`write_eval_log` of an `EvalLog`), named `<task>_<model>_<config>.eval`. Each question is an
`EvalSample`: the question as input, the gold answer as target, the answer as the output, its
verdict as the score (`C` / `I`, the verdict itself in the score's metadata), the bill as
`model_usage` under `thinktime/<model>` (the provider's name; `total_cost` priced from the
price table, as the live bill would have been: the store keeps tokens and seconds, not
dollars), and in `metadata["thinktime"]` the samples (text, answer, verdict, tokens) and their
vote. The run's accuracy and stderr are the log's results, as Inspect's `accuracy()` and
`stderr()` would compute them; the summed usage is its stats.

    >>> from thinktime.bench.store import Store
    >>> store = Store(":memory:")
    >>> store.add({"task": "t", "question_id": "q0", "model": "fake", "config": "cot",
    ...            "strategy": "cot", "params": "{}", "gold": "4", "answer": "4",
    ...            "verdict": "correct", "question": "2+2?", "prompt_tokens": 9,
    ...            "completion_tokens": 3, "seconds": 0.1}, [])
    >>> import tempfile
    >>> [path] = write_inspect_log(store, Path(tempfile.mkdtemp()))
    >>> path.name
    't_fake_cot.eval'
    >>> from inspect_ai.log import read_eval_log
    >>> log = read_eval_log(str(path))
    >>> log.results.scores[0].metrics["accuracy"].value, log.samples[0].output.completion
    (1.0, '4')
"""

from __future__ import annotations

import hashlib
import json
import math
import statistics
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from inspect_ai.log import EvalConfig as InspectEvalConfig
from inspect_ai.log import (
    EvalDataset,
    EvalLog,
    EvalMetric,
    EvalPlan,
    EvalPlanStep,
    EvalResults,
    EvalSample,
    EvalScore,
    EvalSpec,
    EvalStats,
    write_eval_log,
)
from inspect_ai.model import ChatMessageUser, ModelOutput, ModelUsage
from inspect_ai.scorer import CORRECT, INCORRECT, Score

from thinktime.answers.voting import vote
from thinktime.bench.store import Store
from thinktime.compute.prices import Price, load_prices
from thinktime.exports.base import Run, natural, runs, slug
from thinktime.inspect_provider.convert import model_usage
from thinktime.types import Bill

SCORER = "thinktime"  # the score's name: the bench's own grading (the task's grader)


def write_inspect_log(
    store: Store, out: Path, *, model: str | None = None, config: str | None = None
) -> list[Path]:
    """Write one Inspect eval log per run in `store` (only `model`'s, `config`'s when given)
    under `out`; returns their paths."""
    out.mkdir(parents=True, exist_ok=True)
    prices = load_prices()
    written = []
    for run in runs(store, model, config):
        rows = store.query(
            "SELECT * FROM results WHERE task = ? AND model = ? AND config = ?", tuple(run)
        )
        rows.sort(key=lambda row: natural(row["question_id"]))
        path = out / f"{slug(run.task)}_{slug(run.model)}_{slug(run.config)}.eval"
        price = prices.get(run.model, Price())
        write_eval_log(_log(store, run, rows, price), str(path))
        written.append(path)
    return written


def _log(store: Store, run: Run, rows: list[dict[str, Any]], price: Price) -> EvalLog:
    """The eval log of one run: its spec, plan, results, summed usage and one sample a row."""
    task, model, config = run
    provider = f"thinktime/{model}"
    samples = [_sample(store, row, provider, price) for row in rows]
    correct = [1.0 if row["verdict"] == "correct" else 0.0 for row in rows]
    stderr = statistics.stdev(correct) / math.sqrt(len(correct)) if len(correct) > 1 else 0.0
    created = sorted(row["created"] or "" for row in rows)
    started, completed = _when(created[0]), _when(created[-1])
    params = json.loads(rows[0]["params"] or "{}")
    spec = EvalSpec(
        # stable ids, so exporting again names the same eval (Inspect's are random per run)
        eval_id=_id(store, *run),
        run_id=_id(store),
        task_id=_id(store, task),
        created=started,
        task=task,
        dataset=EvalDataset(
            name=task, samples=len(rows), sample_ids=[row["question_id"] for row in rows]
        ),
        model=provider,
        model_args={"strategy": rows[0]["strategy"], **params},
        config=InspectEvalConfig(epochs=1),
        metadata={"thinktime": {"store": str(store.path), "config": config}},
    )
    metrics = {
        "accuracy": EvalMetric(name="accuracy", value=statistics.fmean(correct)),
        "stderr": EvalMetric(name="stderr", value=stderr),
    }
    return EvalLog(
        status="success",
        eval=spec,
        plan=EvalPlan(name="thinktime", steps=[EvalPlanStep(solver=config, params=params)]),
        results=EvalResults(
            total_samples=len(rows),
            completed_samples=len(rows),
            scores=[
                EvalScore(name=SCORER, scorer=SCORER, scored_samples=len(rows), metrics=metrics)
            ],
        ),
        stats=EvalStats(
            started_at=started,
            completed_at=completed,
            model_usage={provider: _total(s.model_usage[provider] for s in samples)},
        ),
        samples=samples,
    )


def _sample(store: Store, row: dict[str, Any], provider: str, price: Price) -> EvalSample:
    """One question: input, target, the answer as output, its verdict as score, its bill."""
    samples = store.samples(row["id"])
    winner, votes = vote([s["answer"] for s in samples])
    bill = Bill(
        prompt_tokens=row["prompt_tokens"] or 0,
        completion_tokens=row["completion_tokens"] or 0,
        reasoning_tokens=row["reasoning_tokens"] or 0,
        verifier_tokens=row["verifier_tokens"] or 0,
        flops=None if row["flops"] is None else int(row["flops"]),
        seconds=row["seconds"] or 0.0,
        engine_seconds=row.get("engine_seconds") or 0.0,
        dollars=price.dollars(
            row["prompt_tokens"] or 0, row["completion_tokens"] or 0, row["seconds"] or 0.0
        ),
        samples=len(samples),
    )
    usage = model_usage(bill)
    question = row.get("question") or f"({row['question_id']}: the store predates question text)"
    answer = row["answer"] or ""
    output = ModelOutput.from_content(provider, answer)
    output.usage = usage
    steps = store.steps(row["id"])
    return EvalSample(
        id=row["question_id"],
        epoch=1,
        input=question,
        target=row["gold"] or "",
        messages=[ChatMessageUser(content=question), output.message],
        output=output,
        scores={
            SCORER: Score(
                value=CORRECT if row["verdict"] == "correct" else INCORRECT,
                answer=row["answer"],
                explanation=f"verdict: {row['verdict']}",
                metadata={"verdict": row["verdict"]},
            )
        },
        metadata={
            "thinktime": {
                "strategy": row["strategy"],
                "verdict": row["verdict"],
                "bill": bill.to_dict(),
                # the stored samples' answers tallied by the shared majority vote (unweighted:
                # the store keeps each sample, not a weighted strategy's weights)
                "votes": votes,
                "majority": winner,
                "samples": [_shown(s) for s in samples],
                **({"steps": steps} if steps else {}),
            }
        },
        model_usage={provider: usage},
        total_time=row["seconds"],
    )


def _shown(sample: dict[str, Any]) -> dict[str, Any]:
    keys = ("text", "answer", "verdict", "finish_reason", "completion_tokens", "score")
    confidence = {
        k: v
        for k, v in sample.items()
        if (k.startswith("conf_") or k == "self_certainty") and v is not None
    }
    return {**{k: sample.get(k) for k in keys}, **confidence}


def _total(usages: Iterable[ModelUsage]) -> ModelUsage:
    total = ModelUsage()
    for usage in usages:
        total = total + usage
    return total


def _id(store: Store, *names: str) -> str:
    return hashlib.sha256("\n".join([str(store.path), *names]).encode()).hexdigest()[:22]


def _when(created: str | None) -> str:
    """SQLite's `CURRENT_TIMESTAMP` (UTC, `YYYY-MM-DD HH:MM:SS`) as an ISO time with its zone."""
    if not created:
        return datetime.now(UTC).isoformat()
    return datetime.fromisoformat(created).replace(tzinfo=UTC).isoformat()
