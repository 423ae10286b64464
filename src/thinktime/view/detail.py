"""One question, every run side by side: gold, each sample's full text with its extracted
answer's place, verdict, tokens and score, the vote table by equivalence class, and the bill.

The answer's place is `answers.extract.answer_span` — the same rule that extracted it — and the
vote table is `answers.voting.classes`, the one majority vote every strategy uses, so what the
page highlights and groups is what the strategy saw. A step search's (beam search, DVTS,
particle filtering, MCTS) tree of steps comes with its answer (`Answer.tree`, stored from schema
7 on, `strategies/tree.py`); a result stored before then has none, and `Answer.note` says so.

    >>> samples = [SampleView.of(0, "so \\\\boxed{18}", "18", "correct", "stop", 5, None),
    ...            SampleView.of(1, "it is 18.0", "18", "correct", "stop", 4, None),
    ...            SampleView.of(2, "17", "17", "wrong", "stop", 1, None)]
    >>> [(v.answer, v.samples) for v in vote_table(samples)]
    [('18', [0, 1]), ('17', [2])]
    >>> samples[0].highlight
    (3, 13)
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from thinktime.answers.extract import answer_span
from thinktime.answers.voting import classes
from thinktime.bench.store import Store
from thinktime.strategies import STRATEGIES
from thinktime.strategies.tree import TreeNode

BILL_FIELDS = ("prompt_tokens", "completion_tokens", "reasoning_tokens", "verifier_tokens",
               "flops", "seconds", "engine_seconds")  # fmt: skip


class SampleView(BaseModel):
    index: int
    text: str
    answer: str | None  # extracted and normalised
    highlight: tuple[int, int] | None  # [start, end) of the answer in `text`
    verdict: str
    finish_reason: str | None
    completion_tokens: int | None
    score: float | None  # the verifier's score, where one scored it
    vote_class: int | None  # index of the first sample of its equivalence class
    reasoning: str | None = None  # a live answer's reasoning_content
    confidence: float | None = None  # DeepConf's lowest group confidence, where stored

    @classmethod
    def of(
        cls, index: int, text: str, answer: str | None, verdict: str, finish: str | None,
        tokens: int | None, score: float | None, reasoning: str | None = None,
        confidence: float | None = None,
    ) -> SampleView:  # fmt: skip
        return cls(
            index=index, text=text, answer=answer, highlight=highlight(text, answer),
            verdict=verdict, finish_reason=finish, completion_tokens=tokens, score=score,
            vote_class=None, reasoning=reasoning, confidence=confidence,
        )  # fmt: skip


class VoteClass(BaseModel):
    """One equivalence class of answers: its first answer, its votes and total score."""

    answer: str
    votes: int
    score: float | None  # sum of the members' scores (None when unscored)
    samples: list[int]
    chosen: bool  # the class of the run's answer
    verdict: str  # the verdict of its first sample


class Answer(BaseModel):
    """One run's answer to the question (or one live request's)."""

    run: int | None
    task: str | None
    model: str
    config: str
    strategy: str
    gold: str | None
    answer: str | None
    verdict: str | None
    bill: dict[str, float | int | None]
    samples: list[SampleView]
    votes: list[VoteClass]
    details: dict[str, Any] | None = None  # a live answer's strategy details (steps, scores…)
    # a step search's tree: every step drawn, its score, kept or pruned, the chosen path
    tree: list[TreeNode] | None = None
    note: str | None = None
    question: str | None = None  # as it was asked (stores from schema 6 on keep it)


class QuestionDetail(BaseModel):
    question_id: str
    answers: list[Answer]


def highlight(text: str, answer: str | None) -> tuple[int, int] | None:
    """Where the extracted answer sits in `text`: the span the extractor matched."""
    if answer is None:
        return None
    span = answer_span(text)
    if span is None:
        return None
    at = text.find(span.value, span.start)
    if at < 0:
        return None
    end = at + len(span.value)
    if text.startswith("\\", span.start) and text.startswith("}", end):
        end += 1  # a boxed answer is marked with its closing brace
    return (span.start, end)


def vote_table(samples: list[SampleView], chosen: str | None = None) -> list[VoteClass]:
    """Group the samples' answers into equivalence classes, largest first (ties: first seen)."""
    labels = classes([s.answer for s in samples])
    groups: dict[int, list[SampleView]] = {}
    for sample, label in zip(samples, labels, strict=True):
        sample.vote_class = label
        if label is not None:
            groups.setdefault(label, []).append(sample)
    table = []
    for label, members in groups.items():
        first = samples[label]
        scores = [m.score for m in members if m.score is not None]
        table.append(
            VoteClass(
                answer=first.answer or "", votes=len(members),
                score=sum(scores) if scores else None, samples=[m.index for m in members],
                chosen=chosen is not None and any(m.answer == chosen for m in members),
                verdict=first.verdict,
            )
        )  # fmt: skip
    return sorted(table, key=lambda c: -c.votes)


def note_for(strategy: str, tree: list[TreeNode]) -> str | None:
    """What the page says of a step search's answer that came without its tree."""
    if tree or strategy not in STRATEGIES or not STRATEGIES[strategy].steps:
        return None
    return (
        f"{strategy}: no tree of steps came with this answer (stores keep trees from schema 7 "
        "on; this result is older); its finished solutions and their verifier scores are below"
    )


def question(
    store: Store, question_id: str, run_ids: dict[tuple[str, str, str], int]
) -> list[Answer]:
    """Every stored run's answer to `question_id` (empty when no run has it)."""
    answers = []
    for row in store.query(
        "SELECT * FROM results WHERE question_id = ? ORDER BY id", (question_id,)
    ):
        samples = [
            SampleView.of(s["idx"], s["text"] or "", s["answer"], s["verdict"],
                          s["finish_reason"], s["completion_tokens"], s["score"],
                          confidence=s.get("conf_lowest_group"))
            for s in store.samples(row["id"])
        ]  # fmt: skip
        tree = store.tree(row["id"])
        answers.append(
            Answer(
                run=run_ids.get((row["task"], row["model"], row["config"])), task=row["task"],
                model=row["model"], config=row["config"], strategy=row["strategy"],
                gold=row["gold"], answer=row["answer"], verdict=row["verdict"],
                bill={k: row.get(k) for k in BILL_FIELDS}, samples=samples,
                votes=vote_table(samples, row["answer"]), tree=tree or None,
                note=note_for(row["strategy"], tree), question=row.get("question"),
            )
        )  # fmt: skip
    return sorted(answers, key=lambda a: (a.run is None, a.run))
