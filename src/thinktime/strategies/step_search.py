"""The shared loop of step-level search (`beam_search`, `dvts`): expand, score, select, repeat.

A solution grows one reasoning step at a time (a step ends at a blank line):
1) every kept partial solution is continued `expand` times — all of them in one batched call;
2) a verifier scores every child as a partial solution (a PRM, or the model judging its own
   steps) — one batched call;
3) children that reached a `\\boxed` answer (or ended) are finished; the `select` rule picks
   which unfinished children to keep (global top-k for beam search, best-per-subtree for DVTS);
4) repeat until enough solutions finished, the steps or the budget run out.
The answer is the best-scored finished solution (`weighted`: the answer with most total score).
If nothing finished in time, the best partial solution is made to answer (anytime).

Every child drawn is a node of the search's tree (`strategies/tree.py`, in `details["tree"]`):
its step's text and score, kept when the rule kept it (or it finished), and the chosen path
down to the answer's leaf (a forced answer is a last node under the partial solution it ends).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from pydantic import BaseModel, ConfigDict, Field

from thinktime.answers.extract import extract_answer
from thinktime.answers.voting import vote
from thinktime.errors import ThinktimeError
from thinktime.strategies.base import Context, Outcome
from thinktime.strategies.budget_forcing import force_answer
from thinktime.strategies.tree import TREE, Tree
from thinktime.types import Sample


class StepSearchParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    beams: int = Field(4, ge=1, le=64, description="Partial solutions (or subtrees) kept.")
    expand: int = Field(2, ge=1, le=16, description="Children drawn from each kept solution.")
    max_steps: int = Field(10, ge=1, le=64, description="Most reasoning steps.")
    step_tokens: int = Field(128, ge=8, le=2048, description="Most tokens per step.")
    weighted: bool = Field(False, description="Pick the answer with the most total score.")


@dataclass(frozen=True)
class Node:
    text: str
    group: int  # the subtree it descends from (DVTS); beam search ignores it
    score: float = 0.0
    tokens: int = 0
    node: int | None = None  # its id in the search's tree (None: the question itself)


Select = Callable[[list[Node], StepSearchParams], list[Node]]


def step_search(question: str, ctx: Context, params: StepSearchParams, select: Select) -> Outcome:
    if ctx.verifier is None:
        raise ThinktimeError("step-level search needs a verifier; pass verifier='judge' or 'prm'")
    prompt = ctx.chat_prompt(ctx.messages(question))
    step_params = ctx.params.with_(max_tokens=params.step_tokens, stop=("\n\n",))
    # the root is expanded beams × expand times, split into `beams` subtrees
    frontier = [Node("", group) for group in range(params.beams)]
    finished: list[Node] = []
    tree = Tree()
    steps = 0
    while frontier and len(finished) < params.beams and steps < params.max_steps:
        if ctx.exhausted():
            break
        steps += 1
        # 1) expand every kept node in one batched call
        outputs = ctx.continue_text(
            [prompt + n.text for n in frontier], n=params.expand, params=step_params
        )
        children = []  # (child, its parent, its step's text, whether it finished)
        for parent, completions in zip(frontier, outputs, strict=True):
            for c in completions:
                done = "\\boxed" in c.text or not c.text.strip()
                step = c.text + ("" if done else "\n\n")
                child = Node(parent.text + step, parent.group,
                             tokens=parent.tokens + c.completion_tokens)  # fmt: skip
                children.append((child, parent, step, done))
        # 2) score all children as partial solutions in one batched call; each is a tree node
        scores = ctx.verifier.score(
            question, [n.text for n, *_ in children], ctx.ledger, partial=True
        )
        scored = [
            (replace(n, score=s, node=tree.add(parent.node, step, s, finished=done)), done)
            for (n, parent, step, done), s in zip(children, scores, strict=True)
        ]
        # 3) finished ones leave the search; the rule keeps some of the rest
        finished += [n for n, done in scored if done and n.text.strip()]
        frontier = select([n for n, done in scored if not done], params)
        for survivor in [*frontier, *(n for n, done in scored if done and n.text.strip())]:
            if survivor.node is not None:  # every child has its node; the question has none
                tree.keep(survivor.node)
    if not finished and frontier:  # anytime: the best partial solution answers now
        best = max(frontier, key=lambda n: n.score)
        text, tokens = force_answer(ctx, prompt, best.text)
        forced = tree.add(best.node, text[len(best.text) :], best.score, forced=True)
        tree.keep(forced)
        finished = [Node(text, best.group, best.score, best.tokens + tokens, forced)]
    samples = tuple(
        Sample(n.text, extract_answer(n.text), "stop", n.tokens, n.tokens, score=n.score)
        for n in finished
    )
    answers = [s.answer for s in samples]
    scores = [n.score for n in finished]
    winner, table = vote(answers, weights=scores if params.weighted else None)
    if params.weighted:
        chosen = max(
            (i for i, a in enumerate(answers) if a == winner), key=lambda i: scores[i], default=None
        )
    else:
        chosen = max(range(len(samples)), key=lambda i: scores[i], default=None)
        winner = samples[chosen].answer if chosen is not None else None
    leaf = finished[chosen].node if chosen is not None else None
    if leaf is not None:
        tree.choose(leaf)
    return Outcome(
        answer=winner,
        samples=samples,
        votes=table,
        chosen=chosen,
        details={"steps": steps, "finished": len(finished), "scores": scores, TREE: tree.rows()},
    )
