"""`mcts`: Monte Carlo tree search over reasoning steps, guided by a verifier's rewards.

The question is the root; a node is one reasoning step (a step ends at a blank line), and the
texts along a path are a partial solution. Each iteration:
1) selection: from the root, step to the child with the highest UCT score
   Q(child) + c · sqrt(ln N(parent) / max(1, N(child))) until a node with no children, a
   terminal one (its step reached `\\boxed`, or the model ended) or one `max_depth` deep;
   Q is the mean of the values backed up through the node, or, while it was never visited,
   its own reward (llm-reasoners' "fast reward"), so a fresh child competes by its reward;
2) expansion: that leaf, unless terminal or at `max_depth`, gets `expand` candidate next
   steps sampled from the model — one batched call, n = `expand`;
3) evaluation: the verifier scores every new child as a partial solution (PRM, the judge —
   the model evaluating its own steps — or, with `self_certainty`, how sure the model was of
   the step) in one batched call: that is each child's reward. The child UCT picks among them
   (the best-rewarded, being all unvisited) is evaluated: its value is its reward, or with
   `rollout` the reward of a solution finished from it in one call (scored as finished);
4) backup: that value is added to every node on the path, root included, and each one's
   visits grow by one, so Q = (sum of values) / visits is a mean, as in RAP;
5) repeat for `iterations`, until the budget runs out, or until terminal nodes with the same
   answer have been reached `stop_visits` times (selection keeps returning to them: the
   search has settled).
The answer (`selection`): `visits` follows the most-visited child from the root (ties: higher
Q, then the earlier) down to the last visited node — its own answer if it is terminal, else
the best of the rollouts made from it; `value` takes the finished solution (a terminal node
by its Q, a rollout by its reward) with the highest value. A path that ends without an answer
is made to answer (anytime: "Final answer: \\boxed{").

Every node is recorded in the search's tree (`strategies/tree.py`, `details["tree"]`): its step,
its score (Q once visited), its `reward`, `visits` and `terminal`; a rollout is a node under
the one it started from (`rollout`: true); visited nodes are kept and the answer's path chosen.

Reference: Hao et al. 2023, "Reasoning with Language Model is Planning with World Model" (RAP,
llm-reasoners' `reasoners/algorithm/mcts.py`), arXiv:2305.14992; Zhang et al. 2024, "ReST-MCTS*:
LLM Self-Training via Process Reward Guided Tree Search", arXiv:2406.03816 (a process reward
as the value of a partial solution). optillm's `mcts.py` searches over dialogue turns with a
fixed n = 3 and a 0–1 self-rating; here the steps, k, c and the reward are parameters.

    >>> from thinktime.backends.fake import FakeBackend
    >>> from thinktime import solve
    >>> def script(request, index):
    ...     if request.prompt is None:  # the judge grading the steps so far
    ...         return "yes" if "36" in request.messages[1].content else "no"
    ...     if "12 =" in request.prompt:  # second step: finish
    ...         return "36 - 10 = \\\\boxed{26}"
    ...     return ["3 * 12 = 35", "3 * 12 = 36"][index % 2]
    >>> r = solve("apples?", backend=FakeBackend(script), strategy="mcts", expand=2,
    ...           iterations=4, stop_visits=2)
    >>> r.answer, r.details["iterations"], [n["visits"] for n in r.details["tree"]]
    ('26', 3, [0, 3, 2, 0])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from thinktime.answers.extract import extract_answer
from thinktime.answers.voting import vote
from thinktime.errors import ThinktimeError
from thinktime.strategies.base import Context, Outcome, as_sample, register_strategy
from thinktime.strategies.budget_forcing import force_answer
from thinktime.strategies.tree import TREE, Tree
from thinktime.types import Completion, Sample
from thinktime.verifiers.base import ScoresSamples

STEP_END = "\n\n"
ROOT = 0  # the question: node 0 of the search, no step of its own (not a node of the tree)


class MctsParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    iterations: int = Field(
        8, ge=1, le=256, description="Rounds of selection, expansion, evaluation and backup."
    )
    expand: int = Field(3, ge=1, le=16, description="Candidate next steps drawn per expansion (k).")
    exploration: float = Field(
        1.0, ge=0.0, le=100.0, description="UCT's constant c: weight of the exploration term."
    )
    max_depth: int = Field(10, ge=1, le=64, description="Most steps on a path.")
    step_tokens: int = Field(128, ge=8, le=2048, description="Most tokens per step.")
    rollout: bool = Field(
        False, description="Value a new node by finishing its solution and scoring that, "
        "not by the node's own reward.",
    )  # fmt: skip
    rollout_tokens: int = Field(512, ge=8, le=8192, description="Most tokens of a rollout.")
    stop_visits: int = Field(
        3, ge=0, le=256, description="Stop once terminal nodes with one answer were reached "
        "this many times (0: run every iteration).",
    )  # fmt: skip
    selection: Literal["visits", "value"] = Field(
        "visits", description="visits: the most-visited path; value: the finished solution "
        "with the highest value.",
    )  # fmt: skip


@dataclass
class Rollout:
    """A solution finished from a node in one call: its text, answer, reward and tokens."""

    text: str
    answer: str | None
    reward: float
    tokens: int
    tree_id: int | None = None  # its node in the recorded tree, once added


@dataclass
class Node:
    """A node of the search: the solution so far, its reward and the statistics UCT reads."""

    text: str = ""  # the partial solution: every step from the first down to this one
    reward: float = 0.0  # the verifier's score of that partial solution
    parent: int | None = None
    depth: int = 0
    terminal: bool = False
    tokens: int = 0  # completion tokens of the steps along the path
    tree_id: int | None = None  # its id in the recorded tree (the root has none)
    children: list[int] = field(default_factory=list)
    visits: int = 0
    value: float = 0.0  # the sum of the values backed up through it
    rollouts: list[Rollout] = field(default_factory=list)

    @property
    def q(self) -> float:
        """The mean backed-up value; the node's own reward while it was never visited."""
        return self.value / self.visits if self.visits else self.reward


def uct(child: Node, parent_visits: int, c: float) -> float:
    """Q + c · sqrt(ln N(parent) / max(1, N(child))).

    >>> fresh, tried = Node(reward=0.5), Node(visits=4, value=2.4)
    >>> round(uct(fresh, 5, 1.0), 3), round(uct(tried, 5, 1.0), 3)
    (1.769, 1.234)
    """
    return child.q + c * math.sqrt(math.log(max(parent_visits, 1)) / max(child.visits, 1))


def best_child(nodes: Sequence[Node], parent: int, c: float) -> int:
    """The child of `parent` with the highest UCT score (ties: the earliest drawn)."""
    visits = nodes[parent].visits
    return max(nodes[parent].children, key=lambda i: uct(nodes[i], visits, c))


def select(nodes: Sequence[Node], c: float, max_depth: int) -> list[int]:
    """1) The path from the root down by UCT to a leaf (unexpanded, terminal, or deepest)."""
    path = [ROOT]
    while nodes[path[-1]].children and not _leaf(nodes[path[-1]], max_depth):
        path.append(best_child(nodes, path[-1], c))
    return path


def backup(nodes: Sequence[Node], path: Sequence[int], value: float) -> None:
    """4) Every node on the path, root included, is visited once more and adds `value`."""
    for i in path:
        nodes[i].visits += 1
        nodes[i].value += value


def most_visited_path(nodes: Sequence[Node]) -> list[int]:
    """From the root, the most-visited child (ties: higher Q, then the earliest) while any
    child was visited."""
    path = [ROOT]
    while visited := [i for i in nodes[path[-1]].children if nodes[i].visits]:
        path.append(max(visited, key=lambda i: (nodes[i].visits, nodes[i].q)))
    return path


def _leaf(node: Node, max_depth: int) -> bool:
    return node.terminal or node.depth >= max_depth


@register_strategy(
    "mcts",
    "Monte Carlo tree search over reasoning steps: UCT selection, k sampled next steps, "
    "verifier rewards (or rollouts) backed up along the path.",
    "Hao et al. 2023, arXiv:2305.14992; Zhang et al. 2024, arXiv:2406.03816",
    MctsParams,
    samples=lambda p: p.expand,  # one expansion's k steps in one call
    drawn=lambda p: p.iterations * (p.expand + p.rollout) + 1,  # + one forced answer
    steps=True,
    uses_verifier=True,
    facts=("iterations", "nodes"),
    continues_text=True,
)
def mcts(question: str, ctx: Context, params: MctsParams) -> Outcome:
    if ctx.verifier is None:
        raise ThinktimeError(
            "mcts needs a verifier; pass verifier='judge', 'prm' or 'self_certainty'"
        )
    prompt = ctx.chat_prompt(ctx.messages(question))
    nodes = [Node()]
    tree = Tree()
    reached: list[str | None] = []  # the answer of each terminal node reached, in order
    iterations = 0
    while iterations < params.iterations and not ctx.exhausted():
        iterations += 1
        # 1) selection
        path = select(nodes, params.exploration, params.max_depth)
        leaf = nodes[path[-1]]
        if not _leaf(leaf, params.max_depth):  # selection stopped at an unexpanded node
            # 2) expansion and 3) each child's reward
            children = _expand(question, ctx, prompt, nodes, path[-1], params, tree)
            if not children:  # the budget paid for no step
                break
            path.append(best_child(nodes, path[-1], params.exploration))
            leaf = nodes[path[-1]]
            # 3) the chosen child's value: its reward, or a finished solution's
            value = leaf.reward
            if params.rollout and not leaf.terminal and not ctx.exhausted():
                value = _rollout(question, ctx, prompt, leaf, params)
        else:  # a terminal or deepest leaf is valued by what it already has
            value = leaf.rollouts[-1].reward if params.rollout and leaf.rollouts else leaf.reward
        if leaf.terminal:
            reached.append(extract_answer(leaf.text))
        # 4) backup, recorded in the tree
        backup(nodes, path, value)
        for i in path[1:]:
            tree_id = nodes[i].tree_id
            assert tree_id is not None
            tree.note(tree_id, score=round(nodes[i].q, 4), visits=nodes[i].visits)
            tree.keep(tree_id)
        if params.stop_visits and _settled(reached, params.stop_visits):
            break
    return _answer(ctx, prompt, nodes, tree, params, iterations)


def _expand(
    question: str,
    ctx: Context,
    prompt: str,
    nodes: list[Node],
    parent: int,
    params: MctsParams,
    tree: Tree,
) -> list[int]:
    """2) + 3) `expand` next steps of `parent` drawn in one call and scored in one call; each
    becomes a node of the search and of the tree. Returns their indices (none: the budget
    paid for no step)."""
    verifier = ctx.verifier
    assert verifier is not None
    base = nodes[parent]
    step_params = ctx.params.with_(max_tokens=params.step_tokens, stop=(STEP_END,))
    if isinstance(verifier, ScoresSamples):  # it scores a step by the step's own logprobs
        step_params = step_params.with_(top_logprobs=verifier.top_logprobs)
    [completions] = ctx.continue_text([prompt + base.text], n=params.expand, params=step_params)
    # a sample the budget could not pay for came back empty at its length: no child
    drawn = [c for c in completions if c.completion_tokens or c.finish_reason != "length"]
    if not drawn:
        return []
    ended = [_ended(c) for c in drawn]
    steps = [c.text + ("" if done else STEP_END) for c, done in zip(drawn, ended, strict=True)]
    rewards = _rewards(question, ctx, base, drawn, steps)
    made = []
    for c, step, done, reward in zip(drawn, steps, ended, rewards, strict=True):
        tree_id = tree.add(base.tree_id, step, round(reward, 4), reward=round(reward, 4),
                           visits=0, terminal=done)  # fmt: skip
        nodes.append(Node(base.text + step, reward, parent, base.depth + 1, done,
                          base.tokens + c.completion_tokens, tree_id))  # fmt: skip
        made.append(len(nodes) - 1)
    base.children = made
    return made


def _ended(completion: Completion) -> bool:
    """The step finished the solution: it reached `\\boxed`, or the model ended its turn."""
    return "\\boxed" in completion.text or not completion.text.strip()


def _rewards(
    question: str, ctx: Context, base: Node, drawn: Sequence[Completion], steps: Sequence[str]
) -> list[float]:
    """Each new step's reward: the verifier's score of the partial solution it ends, or its
    own self-certainty (an empty step, the model ending its turn, keeps its parent's)."""
    verifier = ctx.verifier
    assert verifier is not None
    if isinstance(verifier, ScoresSamples):
        scored = [i for i, c in enumerate(drawn) if c.text.strip()]
        certainty = verifier.score_samples([as_sample(drawn[i]) for i in scored])
        own = dict(zip(scored, certainty, strict=True))
        return [own.get(i, base.reward) for i in range(len(drawn))]
    candidates = [base.text + step for step in steps]
    return verifier.score(question, candidates, ctx.ledger, partial=True)


def _rollout(question: str, ctx: Context, prompt: str, node: Node, params: MctsParams) -> float:
    """3) with `rollout`: finish the solution from `node` in one call and score it as a
    finished one; returns that reward (the node's own where the budget paid for nothing)."""
    verifier = ctx.verifier
    assert verifier is not None
    finish = ctx.params.with_(max_tokens=params.rollout_tokens)
    if isinstance(verifier, ScoresSamples):
        finish = finish.with_(top_logprobs=verifier.top_logprobs)
    [[completion]] = ctx.continue_text([prompt + node.text], params=finish)
    if not completion.completion_tokens:
        return node.reward
    if isinstance(verifier, ScoresSamples):
        [reward] = verifier.score_samples([as_sample(completion)])
    else:
        [reward] = verifier.score(question, [node.text + completion.text], ctx.ledger)
    node.rollouts.append(
        Rollout(completion.text, extract_answer(node.text + completion.text), reward,
                completion.completion_tokens)
    )  # fmt: skip
    return reward


def _settled(reached: Sequence[str | None], stop_visits: int) -> bool:
    """Terminal nodes with one answer (equivalent answers count together) were reached
    `stop_visits` times."""
    _, table = vote(list(reached))
    return max(table.values(), default=0) >= stop_visits


def _answer(
    ctx: Context,
    prompt: str,
    nodes: list[Node],
    tree: Tree,
    params: MctsParams,
    iterations: int,
) -> Outcome:
    """The finished solutions as samples and the chosen one's answer (see the docstring)."""
    # every finished solution: terminal nodes that were reached, and rollouts (which join
    # the tree now, each under the node it started from)
    finished: list[tuple[Sample, int]] = []  # (the solution, its leaf in the tree)
    for node in nodes:
        if node.terminal and node.visits and node.tree_id is not None:
            sample = Sample(node.text, extract_answer(node.text), "stop", node.tokens,
                            node.tokens, score=round(node.q, 4))  # fmt: skip
            finished.append((sample, node.tree_id))
        for r in node.rollouts:
            r.tree_id = tree.add(node.tree_id, r.text, round(r.reward, 4),
                                 reward=round(r.reward, 4), visits=0, terminal=True,
                                 rollout=True)  # fmt: skip
            tree.keep(r.tree_id)
            tokens = node.tokens + r.tokens
            sample = Sample(node.text + r.text, r.answer, "stop", tokens, tokens, score=r.reward)
            finished.append((sample, r.tree_id))
    chosen = _choose(ctx, prompt, nodes, tree, params, finished)
    samples = tuple(s for s, _ in finished)
    if chosen is not None:
        tree.choose(finished[chosen][1])
    _, table = vote([s.answer for s in samples])
    details: dict[str, Any] = {
        "iterations": iterations,
        "nodes": len(nodes) - 1,
        "visits": nodes[ROOT].visits,
        "finished": len(samples),
        TREE: tree.rows(),
    }
    answer = samples[chosen].answer if chosen is not None else None
    return Outcome(answer, samples, table, chosen, details)


def _choose(
    ctx: Context,
    prompt: str,
    nodes: list[Node],
    tree: Tree,
    params: MctsParams,
    finished: list[tuple[Sample, int]],
) -> int | None:
    """The index in `finished` of the answer's solution; a path that ends without one is made
    to answer, and that forced solution is appended to `finished`."""
    answered = [i for i, (s, _) in enumerate(finished) if s.answer is not None]
    if params.selection == "value" and answered:
        return max(answered, key=lambda i: finished[i][0].score or 0.0)  # ties: the earliest
    path = most_visited_path(nodes)
    leaf = nodes[path[-1]]
    if len(path) == 1:  # nothing was visited: the budget ran out before the first step
        return None
    assert leaf.tree_id is not None
    own = [i for i in answered if finished[i][1] == leaf.tree_id]
    rollouts = [i for i in answered if finished[i][1] in {r.tree_id for r in leaf.rollouts}]
    if own:
        return own[0]
    if rollouts:
        return max(rollouts, key=lambda i: finished[i][0].score or 0.0)
    # anytime: the most-visited path answers now
    text, tokens = force_answer(ctx, prompt, leaf.text)
    forced = tree.add(leaf.tree_id, text[len(leaf.text) :], round(leaf.q, 4), forced=True)
    tree.keep(forced)
    total = leaf.tokens + tokens
    sample = Sample(text, extract_answer(text), "stop", total, total, score=round(leaf.q, 4))
    finished.append((sample, forced))
    return len(finished) - 1
