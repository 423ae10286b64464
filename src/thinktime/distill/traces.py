"""Teacher traces → the verified, deduplicated, length-bounded set a student is trained on.

A trace is one teacher sample stored by the bench harness (`thinktime bench` writes every sample
to SQLite as it completes, so trace generation resumes like any sweep). `select_traces` keeps a
sample only when

1. it is *verified*: the task's grader (a gold answer, or the task's scorer) grades its answer
   correct, or — with no gold — it agrees with a strong majority of its question's samples
   (`min_agreement`);
2. it finished on its own (not truncated at `max_tokens`) and is at most `max_tokens` long;
3. it is not a duplicate (same question, same text up to whitespace);

and keeps at most `per_question` of them per question, shortest first (R1's distillation data
was also filtered for readable, non-rambling traces). Every dropped sample is counted by reason.

    >>> from thinktime.tasks import Problem, Task
    >>> task = Task("toy", [Problem("q1", "What is 2+2?", "4")])
    >>> rows = [{"question_id": "q1", "samples": [
    ...     {"text": "2+2=4. \\\\boxed{4}", "answer": "4",
    ...      "finish_reason": "stop", "completion_tokens": 9},
    ...     {"text": "2+2=5. \\\\boxed{5}", "answer": "5",
    ...      "finish_reason": "stop", "completion_tokens": 9}]}]
    >>> traces, report = select_traces(rows, task, TraceFilter())
    >>> [t.answer for t in traces], report.dropped
    (['4'], {'unverified': 1})
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from thinktime.answers.voting import vote
from thinktime.backends.thinking import THINK, ThinkTags
from thinktime.errors import ThinktimeError
from thinktime.prompts import cot_messages
from thinktime.tasks import Task


class TraceFilter(BaseModel):
    """Which teacher samples become training data."""

    max_tokens: int = Field(1024, ge=1, description="Longest trace kept, in completion tokens.")
    per_question: int = Field(1, ge=1, description="Most traces kept per question.")
    min_agreement: float = Field(
        0.6,
        gt=0.5,
        le=1.0,
        description="Without a gold answer: share of the question's samples that must agree.",
    )


def chat_prompt(question: str) -> list[dict[str, str]]:
    """The chain-of-thought prompt the bench sends, as chat dicts (what students train on)."""
    return [{"role": m.role, "content": m.content} for m in cot_messages(question)]


def thinking_reply(text: str, answer: str, tags: ThinkTags = THINK) -> str:
    """The reply a thinking student learns (R1's format): the teacher's whole worked text as
    thinking between `tags`, then a one-line answer after it — where answers are looked for.

    >>> print(thinking_reply("63 - 10 = 53, so \\\\boxed{53}", "53"))
    <think>
    63 - 10 = 53, so \\boxed{53}
    </think>
    <BLANKLINE>
    The answer is \\boxed{53}.
    """
    return f"{tags.open}\n{text.strip()}\n{tags.close}\n\nThe answer is \\boxed{{{answer}}}."


@dataclass(frozen=True)
class Trace:
    """One verified teacher sample, with the question it answers."""

    question_id: str
    question: str
    text: str
    answer: str
    completion_tokens: int
    verified_by: str  # "gold" or "majority"

    def as_chat(self, think: bool = False, bare: bool = False) -> dict[str, Any]:
        """Prompt-completion chat record: the student sees the teacher's prompt, learns its turn
        (with `think`, the teacher's turn becomes thinking and a short answer follows it; with
        `bare`, the question is asked alone, without the chain-of-thought system prompt)."""
        reply = thinking_reply(self.text, self.answer) if think else self.text
        prompt = (
            [{"role": "user", "content": self.question}] if bare else chat_prompt(self.question)
        )
        return {
            "id": self.question_id,
            "prompt": prompt,
            "completion": [{"role": "assistant", "content": reply}],
            "answer": self.answer,
            "verified_by": self.verified_by,
        }


@dataclass
class FilterReport:
    """How many samples were seen and kept, and why the rest were dropped."""

    seen: int = 0
    kept: int = 0
    questions: int = 0
    questions_kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)

    def drop(self, reason: str) -> None:
        self.dropped[reason] = self.dropped.get(reason, 0) + 1


def _key(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _majority(samples: list[dict[str, Any]]) -> tuple[str | None, float]:
    """The majority answer (equivalent answers vote together) and the share of samples giving it."""
    winner, table = vote([s.get("answer") or None for s in samples])
    if winner is None or not samples:
        return None, 0.0
    return winner, table[winner] / len(samples)


def select_traces(
    results: Iterable[Mapping[str, Any]],
    task: Task,
    rules: TraceFilter,
) -> tuple[list[Trace], FilterReport]:
    """Apply the filter to stored results (each with its `question_id` and `samples`) of
    `task`'s problems, graded by the task's grader; see the module docstring."""
    report = FilterReport()
    traces: list[Trace] = []
    problems = {p.id: p for p in task.problems}
    for result in results:
        report.questions += 1
        samples = list(result["samples"])
        problem = problems.get(result["question_id"])
        if problem is None:
            report.seen += len(samples)
            report.dropped["unknown question"] = report.dropped.get("unknown question", 0) + len(
                samples
            )
            continue
        has_gold = bool(problem.gold)
        grader = task.grader(problem)
        majority, share = (None, 0.0) if has_gold else _majority(samples)
        kept: list[Trace] = []
        seen_texts: set[str] = set()
        # shortest first: the per-question cap then keeps the most direct correct reasoning
        for sample in sorted(samples, key=lambda s: s.get("completion_tokens") or 0):
            report.seen += 1
            if has_gold:
                verified = grader.grade(sample.get("answer")) >= 1.0
            else:
                verified = sample.get("answer") == majority and share >= rules.min_agreement
            if not verified:
                report.drop("unverified")
            elif sample.get("finish_reason") in ("length", "cut", "cancelled"):
                report.drop("truncated")
            elif (sample.get("completion_tokens") or 0) > rules.max_tokens:
                report.drop("too long")
            elif _key(sample["text"]) in seen_texts:
                report.drop("duplicate")
            elif len(kept) >= rules.per_question:
                report.drop("over per-question cap")
            else:
                seen_texts.add(_key(sample["text"]))
                kept.append(
                    Trace(
                        problem.id,
                        problem.question,
                        sample["text"],
                        sample["answer"],
                        int(sample.get("completion_tokens") or 0),
                        "gold" if has_gold else "majority",
                    )
                )
        traces.extend(kept)
        report.kept += len(kept)
        report.questions_kept += bool(kept)
    return traces, report


def write_jsonl(traces: list[Trace], path: str | Path, think: bool = False) -> Path:
    """Write the chat records, one per line (atomically: a temp file renamed into place).

    `think` writes each as thinking + answer (`thinking_reply`), and asks every other question
    bare (no system prompt): a student that learnt to think only under thinktime's prompt would
    answer a plain chat request without thinking."""
    if not traces:
        raise ThinktimeError(
            "no trace passed the filter, so there is nothing to export; run the teacher on more "
            "questions, use a stronger teacher or strategy, or relax --max-trace-tokens"
        )
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    with partial.open("w") as out:
        for i, trace in enumerate(traces):
            record = trace.as_chat(think, bare=think and i % 2 == 1)
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    partial.replace(path)
    return path


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Read exported chat records back, checking each has a prompt and a completion."""
    path = Path(path)
    if not path.is_file():
        raise ThinktimeError(f"trace file not found: {path}; run `thinktime distill traces` first")
    records = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not records:
        raise ThinktimeError(f"{path} holds no traces; the dataset is empty, nothing to train on")
    for number, record in enumerate(records, start=1):
        if not isinstance(record.get("prompt"), list) or not isinstance(
            record.get("completion"), list
        ):
            raise ThinktimeError(
                f"{path}:{number} is not a prompt-completion chat record "
                "(needs 'prompt' and 'completion' lists of messages)"
            )
    return records
