"""A live server's recent answers (`thinktime serve --view`) in the viewer's shapes.

Each `Exchange` of the serve ring buffer becomes a list row and, opened, the same `Answer` a
stored run's question shows — samples with their highlighted answers, the vote table, the bill —
plus the strategy's own details (a beam search's steps and scores) and a step search's tree
(`Answer.tree`, taken out of the details). A live answer has no gold, so its samples' verdict
is `unknown`.

    >>> from thinktime.serve.recent import Recent
    >>> from thinktime.types import Result, Sample
    >>> recent = Recent(4)
    >>> sample = Sample("so \\\\boxed{5}", "5", "stop", 4, 0)
    >>> exchange = recent.add("cot/qwen", Result("2+3?", "5", "cot", "qwen", (sample,), chosen=0))
    >>> answer(exchange).votes[0].answer, row(exchange).answer
    ('5', '5')
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Any

from pydantic import BaseModel

from thinktime.serve.recent import Exchange
from thinktime.strategies.tree import TREE, nodes_of
from thinktime.view.detail import Answer, SampleView, note_for, vote_table


class LiveRow(BaseModel):
    id: int
    at: float  # unix seconds
    model: str  # the name the client sent
    strategy: str
    question: str
    answer: str | None
    samples: int
    completion_tokens: int


def row(exchange: Exchange) -> LiveRow:
    result = exchange.result
    return LiveRow(
        id=exchange.id, at=exchange.at, model=exchange.model, strategy=result.strategy,
        question=result.question, answer=result.answer, samples=len(result.samples),
        completion_tokens=result.bill.completion_tokens,
    )  # fmt: skip


def answer(exchange: Exchange) -> Answer:
    result = exchange.result
    samples = [
        SampleView.of(i, s.text, s.answer, "chosen" if i == result.chosen else "unknown",
                      s.finish_reason, s.completion_tokens, s.score, s.reasoning)
        for i, s in enumerate(result.samples)
    ]  # fmt: skip
    tree = nodes_of(result.details)
    shown = {k: v for k, v in result.details.items() if k != TREE}  # the tree is drawn apart
    details: dict[str, Any] = json.loads(json.dumps(shown, default=str))
    return Answer(
        run=None, task=None, model=exchange.model, config=result.strategy,
        strategy=result.strategy, gold=None, answer=result.answer, verdict=None,
        bill=dict(asdict(result.bill)), samples=samples, votes=vote_table(samples, result.answer),
        details=details, tree=tree or None, note=note_for(result.strategy, tree),
    )  # fmt: skip
