"""The tree a step search grew: every step it drew, whose child it is, its score, what survived.

A step strategy (beam search, DVTS, particle filtering, MCTS) makes a `Tree` of its own, records
as it goes, and returns the tree in its outcome's `details["tree"]` (`Tree.rows`), so a strategy
that records nothing pays nothing. From there the bench stores it beside the result (table
`tree_nodes`) and the viewer draws it, from a store or live.

1) `add(parent, text, score)` → the new node's id: one step drawn after node `parent` (None: a
   first step, hanging from the question, which is the root and not a node); `text` is the step
   as it joins the solution, so the texts along a path are the solution's text; its `step` (the
   depth: 1 for a first step) follows from the parent's;
2) `keep(node)` when the search's rule lets it survive its step (beam search's top-k, DVTS's
   best of its subtree, particle filtering's resampling drawing it at least once; a finished
   solution that stays a candidate); a node never kept was pruned;
3) `choose(leaf)` once the answer is decided: the leaf it came from and every ancestor are on
   the chosen path;
4) `note(node, **facts)` keeps what else the strategy knows of a node (`weight`, `copies`,
   `visits`, `value` …) and may update its `score` (MCTS backs values up into it).

MCTS, say, adds a node per expansion (`add(parent, text, prior)`), backs rewards up with
`note(node, score=mean_value, visits=n)`, keeps the children it visited and chooses the leaf of
its answer:

    >>> tree = Tree()
    >>> first = tree.add(None, "3 * 12 = 36\\n\\n", 0.9)
    >>> tree.keep(first)
    >>> wrong = tree.add(None, "3 * 12 = 35\\n\\n", 0.1)
    >>> leaf = tree.add(first, "36 - 10 = \\\\boxed{26}", 0.8)
    >>> tree.keep(leaf); tree.choose(leaf); tree.note(wrong, visits=1)
    >>> [(n.id, n.parent, n.step, n.kept, n.chosen) for n in tree.nodes]
    [(0, None, 1, True, True), (1, None, 1, False, False), (2, 0, 2, True, True)]
    >>> "".join(n.text for n in tree.path(leaf))
    '3 * 12 = 36\\n\\n36 - 10 = \\\\boxed{26}'
    >>> {k: v for k, v in tree.rows()[1].items() if k != "text"}
    {'id': 1, 'parent': None, 'step': 1, 'score': 0.1, 'kept': False, 'chosen': False, 'visits': 1}
    >>> [n.id for n in nodes_of({"tree": tree.rows()})]
    [0, 1, 2]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

TREE = "tree"  # the key of `Outcome.details` (and `Result.details`) that holds `Tree.rows()`
FIELDS = ("id", "parent", "step", "text", "score", "kept", "chosen")  # the rest are facts


@dataclass
class TreeNode:
    """One step drawn: its place in the tree, its text and score, and whether it survived."""

    id: int  # its index in the tree, from 0
    parent: int | None  # the step it continues; None: a first step (the question is the root)
    step: int  # its depth: 1 for a first step
    text: str  # the step as it joins the solution (separator included)
    score: float | None  # the reward the strategy used (verifier score, MCTS's mean value)
    kept: bool = False  # it survived its step's selection (else it was pruned)
    chosen: bool = False  # on the path to the answer's leaf
    facts: dict[str, Any] = field(default_factory=dict)  # the strategy's own (weight, visits…)

    def row(self) -> dict[str, Any]:
        """The node as one flat JSON-ready dict: its fields, then its facts."""
        plain = asdict(self)
        return {**{name: plain[name] for name in FIELDS}, **self.facts}

    @classmethod
    def of(cls, row: Mapping[str, Any]) -> TreeNode:
        """A node from its `row` (the fields named; every other key a fact)."""
        facts = {k: v for k, v in row.items() if k not in FIELDS}
        score = row.get("score")
        return cls(int(row["id"]), None if row.get("parent") is None else int(row["parent"]),
                   int(row["step"]), str(row.get("text") or ""),
                   None if score is None else float(score), bool(row.get("kept")),
                   bool(row.get("chosen")), facts)  # fmt: skip


@dataclass
class Tree:
    """The recorder: nodes in the order they were drawn (a node's id is its index)."""

    nodes: list[TreeNode] = field(default_factory=list)

    def add(self, parent: int | None, text: str, score: float | None = None, **facts: Any) -> int:
        """Record a step drawn after `parent` (None: a first step); returns its id."""
        step = 1 if parent is None else self.nodes[parent].step + 1
        self.nodes.append(TreeNode(len(self.nodes), parent, step, text, score, facts=facts))
        return len(self.nodes) - 1

    def keep(self, node: int) -> None:
        """`node` survived its step's selection."""
        self.nodes[node].kept = True

    def choose(self, leaf: int) -> None:
        """The answer came from `leaf`: it and its ancestors are the chosen path."""
        for node in self.path(leaf):
            node.chosen = True

    def note(self, node: int, score: float | None = None, **facts: Any) -> None:
        """Set what the strategy knows of `node`: its facts, and its score when given."""
        if score is not None:
            self.nodes[node].score = score
        self.nodes[node].facts.update(facts)

    def path(self, leaf: int) -> list[TreeNode]:
        """The nodes from a first step down to `leaf`."""
        path: list[TreeNode] = []
        at: int | None = leaf
        while at is not None:
            path.append(self.nodes[at])
            at = self.nodes[at].parent
        return path[::-1]

    def rows(self) -> list[dict[str, Any]]:
        """Every node as a flat dict, for `details["tree"]`."""
        return [node.row() for node in self.nodes]


def nodes_of(details: Mapping[str, Any]) -> list[TreeNode]:
    """The tree a strategy returned in its `details` (none when it recorded none)."""
    rows = details.get(TREE)
    if not isinstance(rows, list):
        return []
    return [TreeNode.of(row) for row in rows]
