"""The Questions page's data: one run's questions, filtered, sorted and paged on the server.

A run's question table is one aggregate query — each result with its sample count and how many
samples agree with the chosen answer — made once per store version; a page is then a filter, a
sort and a slice of it, so the first page of a 10,000-question run is fast after the first
query (measured in `benchmarks/view_routes.py`). "Solved by A but not B" intersects with the
sets of questions runs A and B got right.

    >>> rows = [Question(question_id=f"q/{i}", result_id=i, gold="1", answer=a, verdict=v,
    ...                  tokens=t, flops=None, seconds=0.0, samples=0, agreement=None)
    ...         for i, (a, v, t) in enumerate([("1", "correct", 9), ("2", "wrong", 30)])]
    >>> page = select(rows, Filters(verdict="wrong"))
    >>> page.total, [q.question_id for q in page.questions]
    (1, ['q/1'])
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from thinktime.bench.grading import Verdict
from thinktime.bench.paired import compare
from thinktime.bench.store import Store
from thinktime.exports.base import natural

Sort = Literal["question", "verdict", "tokens", "agreement", "flops", "seconds"]


class Question(BaseModel):
    """One question under one run: the chosen answer, its verdict and cost, and the pool's
    agreement (share of samples whose answer is the chosen one; None with no samples)."""

    question_id: str
    result_id: int
    gold: str | None
    answer: str | None
    verdict: str
    tokens: int
    flops: float | None
    seconds: float | None
    samples: int
    agreement: float | None


class Filters(BaseModel):
    """What the table shows: a verdict, questions solved (or missed) by other runs, an order."""

    verdict: Verdict | None = None
    solved_by: int | None = Field(None, ge=0, description="Only questions this run got right.")
    missed_by: int | None = Field(None, ge=0, description="Only questions this run got wrong.")
    sort: Sort = "question"
    order: Literal["asc", "desc"] = "asc"
    page: int = Field(1, ge=1, le=1_000_000)
    size: int = Field(50, ge=1, le=500)


class Page(BaseModel):
    total: int  # questions that pass the filters
    page: int
    size: int
    questions: list[Question]


def table(store: Store, task: str, model: str, config: str) -> list[Question]:
    """Every question of one run, with the pool's agreement, in one aggregate query; in question
    order (shorter ids first, so gsm8k/9 comes before gsm8k/10), so a page sorts only by its
    column. Rows come from the store's own columns, so they are built without re-validation."""
    rows = store.query(
        # two lookups per result in the (result_id, answer) index (migration 4) — no sample
        # text is read and no grouping is built: 107 ms for 10,000 × 16, a join took 240 ms
        "SELECT r.id, r.question_id, r.gold, r.answer, r.verdict, r.completion_tokens, r.flops,"
        " r.seconds, (SELECT count(*) FROM samples s WHERE s.result_id = r.id) AS samples,"
        " (SELECT count(*) FROM samples s WHERE s.result_id = r.id AND s.answer = r.answer)"
        " AS agree FROM results r WHERE r.task = ? AND r.model = ? AND r.config = ?"
        " ORDER BY length(r.question_id), r.question_id",
        (task, model, config),
    )
    return [
        Question.model_construct(
            question_id=r["question_id"],
            result_id=r["id"],
            gold=r["gold"],
            answer=r["answer"],
            verdict=r["verdict"],
            tokens=r["completion_tokens"] or 0,
            flops=r["flops"],
            seconds=r["seconds"],
            samples=r["samples"],
            agreement=(r["agree"] or 0) / r["samples"] if r["samples"] else None,
        )
        for r in rows
    ]


def solved(store: Store, task: str, model: str, config: str) -> frozenset[str]:
    """The questions one run answered correctly."""
    rows = store.query(
        "SELECT question_id FROM results WHERE task = ? AND model = ? AND config = ? "
        "AND verdict = 'correct'",
        (task, model, config),
    )
    return frozenset(r["question_id"] for r in rows)


def select(
    rows: list[Question],
    filters: Filters,
    solved_by: frozenset[str] | None = None,
    missed_by: frozenset[str] | None = None,
) -> Page:
    """Filter, sort (None last either way) and slice one page of rows in question order."""
    # 1) keep the rows that pass every filter
    kept = [
        q
        for q in rows
        if (filters.verdict is None or q.verdict == filters.verdict)
        and (solved_by is None or q.question_id in solved_by)
        and (missed_by is None or q.question_id not in missed_by)
    ]
    # 2) sort by the column (stable: ties stay in question order), missing values last
    if filters.sort != "question":
        column = filters.sort
        present = [q for q in kept if getattr(q, column) is not None]
        absent = [q for q in kept if getattr(q, column) is None]
        present.sort(key=lambda q: getattr(q, column), reverse=filters.order == "desc")
        kept = present + absent
    elif filters.order == "desc":
        kept.reverse()
    # 3) the page
    start = (filters.page - 1) * filters.size
    return Page(
        total=len(kept), page=filters.page, size=filters.size,
        questions=kept[start : start + filters.size],
    )  # fmt: skip


class Paired(BaseModel):
    """Two runs on the questions both answered: who solved what."""

    a: int
    b: int
    common: int  # questions both runs answered
    both: int
    only_a: int
    only_b: int
    neither: int
    only_a_ids: list[str]  # the first 200 of each, in question order
    only_b_ids: list[str]
    # accuracy of b − a on the common questions, its paired 95% bootstrap CI, McNemar's
    # exact p (`bench.paired`), and the questions a 5-point difference would need
    difference: float = 0.0
    ci: tuple[float, float] = (0.0, 0.0)
    p_value: float = 1.0
    needed: int | None = None


def paired(a: int, b: int, rows_a: list[Question], rows_b: list[Question]) -> Paired:
    right_a = {q.question_id: q.verdict == "correct" for q in rows_a}
    right_b = {q.question_id: q.verdict == "correct" for q in rows_b}
    common = sorted(right_a.keys() & right_b.keys(), key=natural)
    only_a = [q for q in common if right_a[q] and not right_b[q]]
    only_b = [q for q in common if right_b[q] and not right_a[q]]
    both = sum(right_a[q] and right_b[q] for q in common)
    stats = compare([float(right_a[q]) for q in common], [float(right_b[q]) for q in common],
                    str(a), str(b))  # fmt: skip
    return Paired(
        a=a, b=b, common=len(common), both=both, only_a=len(only_a), only_b=len(only_b),
        neither=len(common) - both - len(only_a) - len(only_b),
        only_a_ids=only_a[:200], only_b_ids=only_b[:200], difference=stats.difference,
        ci=stats.ci, p_value=stats.p_value, needed=stats.needed,
    )  # fmt: skip
