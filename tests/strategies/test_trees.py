"""Trees of step searches: the recorder, each strategy's tree on a scripted backend (counts per
step, parents, kept flags, the chosen path is the answer's text), and the store's table (round
trip, one transaction with its result, migration of an older store)."""

from __future__ import annotations

import itertools
import sqlite3
from collections import Counter
from collections.abc import Callable, Sequence

import pytest

from tests.helpers.tree_store import BAD, GOOD, PARTICLES, QUESTION, script
from thinktime import solve
from thinktime.backends.fake import FakeBackend
from thinktime.bench.configs import parse_config
from thinktime.bench.runner import solve_and_grade
from thinktime.bench.store import MIGRATIONS, Store, _statements
from thinktime.compute.ledger import Ledger
from thinktime.strategies.tree import Tree, TreeNode, nodes_of
from thinktime.tasks import Task
from thinktime.types import Result


class LastStep:
    """A scripted verifier: a candidate's score is `rule(its last step)`."""

    name = "scripted"

    def __init__(self, rule: Callable[[str], float]) -> None:
        self.rule = rule

    def score(
        self, question: str, candidates: Sequence[str], ledger: Ledger, partial: bool = False
    ) -> list[float]:
        return [self.rule(c.rstrip().split("\n\n")[-1]) for c in candidates]


FIRST = {"a": 0.9, "b": 0.8, "c": 0.3, "d": 0.2}  # step 1's four children, best first


def lettered() -> Callable:
    """Step 1: the model's requests draw a, b, then c, d (two per subtree); step 2 ends the
    partial solution ending in step X with "X0 \\boxed{1}" or "X1 \\boxed{2}"."""
    letters = iter("abcd")

    def say(request, index):
        last = request.prompt.split("assistant: ")[-1].rstrip().split("\n\n")[-1]
        if not last:
            return next(letters)
        return f"{last}{index} \\boxed{{{index + 1}}}"

    return say


def finishing(step: str) -> float:
    return FIRST.get(step, 0.95 if step.startswith("b1") else 0.4)


def step_search(strategy: str) -> tuple[Result, list[TreeNode]]:
    result = solve("?", backend=FakeBackend(lettered()), strategy=strategy,
                   verifier=LastStep(finishing), beams=2, expand=2, max_steps=3)  # fmt: skip
    return result, nodes_of(result.details)


def by_text(tree: list[TreeNode]) -> dict[str, TreeNode]:
    return {n.text.split()[0].strip(): n for n in tree}


def chosen_path(tree: list[TreeNode]) -> list[TreeNode]:
    path = [n for n in tree if n.chosen]
    assert [n.step for n in path] == list(range(1, len(path) + 1))  # one node per level
    for parent, child in itertools.pairwise(path):
        assert child.parent == parent.id
    assert not any(n.parent == path[-1].id for n in tree)  # it ends at a leaf
    return path


def test_the_recorder_keeps_parents_depths_flags_and_facts():
    tree = Tree()
    root = tree.add(None, "one\n\n", 0.5)
    child = tree.add(root, "two\n\n", 0.7, finished=False)
    leaf = tree.add(child, "\\boxed{3}", 0.9)
    pruned = tree.add(root, "other\n\n", 0.1)
    for node in (root, child, leaf):
        tree.keep(node)
    tree.choose(leaf)
    tree.note(child, score=0.75, visits=2)
    assert [n.step for n in tree.nodes] == [1, 2, 3, 2]
    assert [n.parent for n in tree.nodes] == [None, 0, 1, 0]
    assert [n.chosen for n in tree.nodes] == [True, True, True, False]
    assert not tree.nodes[pruned].kept and tree.nodes[child].score == 0.75
    assert tree.nodes[child].facts == {"finished": False, "visits": 2}
    # the rows are flat and JSON-ready, and come back as the same nodes
    rows = tree.rows()
    assert rows[1] == {"id": 1, "parent": 0, "step": 2, "text": "two\n\n", "score": 0.75,
                       "kept": True, "chosen": True, "finished": False, "visits": 2}  # fmt: skip
    assert nodes_of({"tree": rows}) == tree.nodes
    assert nodes_of({}) == [] and nodes_of({"tree": "not a tree"}) == []


def test_beam_search_records_every_child_the_top_k_kept_and_the_chosen_path():
    result, tree = step_search("beam_search")
    assert Counter(n.step for n in tree) == {1: 4, 2: 4}  # beams × expand per step
    nodes = by_text(tree)
    assert [nodes[x].score for x in "abcd"] == [0.9, 0.8, 0.3, 0.2]
    assert all(nodes[x].parent is None for x in "abcd")
    # beam search keeps the global top 2, both from subtree 0: a and b
    assert {x for x in "abcd" if nodes[x].kept} == {"a", "b"}
    assert sorted(n.parent for n in tree if n.step == 2) == sorted(
        2 * [nodes["a"].id, nodes["b"].id]
    )
    assert all(n.kept for n in tree if n.step == 2)  # finished solutions all stay candidates
    # the chosen leaf is b1 (score 0.95): the path's texts are the chosen sample's text
    path = chosen_path(tree)
    assert [n.text.split()[0] for n in path] == ["b", "b1"]
    assert "".join(n.text for n in path) == result.text and result.answer == "2"


def test_dvts_keeps_the_best_child_of_each_subtree():
    result, tree = step_search("dvts")
    nodes = by_text(tree)
    assert Counter(n.step for n in tree) == {1: 4, 2: 4}
    # subtree 0 drew a, b and subtree 1 drew c, d: each keeps its best
    assert {x for x in "abcd" if nodes[x].kept} == {"a", "c"}
    assert sorted(n.parent for n in tree if n.step == 2) == sorted(
        2 * [nodes["a"].id, nodes["c"].id]
    )
    path = chosen_path(tree)
    assert "".join(n.text for n in path) == result.text
    assert result.samples[result.chosen].score == path[-1].score


def test_an_answer_forced_after_the_last_step_is_the_chosen_leaf():
    backend = FakeBackend(lambda request, index: "7}" if request.prompt.endswith("{") else "hmm")
    result = solve("?", backend=backend, strategy="beam_search",
                   verifier=LastStep(lambda step: 0.5), beams=2, expand=2, max_steps=1)  # fmt: skip
    tree = nodes_of(result.details)
    path = chosen_path(tree)
    assert len(tree) == 5 and path[-1].facts == {"forced": True} and path[-1].step == 2
    assert "".join(n.text for n in path) == result.text and result.answer == "7"


def test_particle_filtering_records_the_resampling_ancestry():
    result = solve(QUESTION.question, backend=FakeBackend(script), strategy="particle_filtering",
                   particles=4, max_steps=3, seed=0)  # fmt: skip
    tree = nodes_of(result.details)
    assert Counter(n.step for n in tree) == {1: 4, 2: 4}
    first = [n for n in tree if n.step == 1]
    assert [n.text.rstrip() for n in first] == [GOOD, BAD, GOOD, BAD]
    # kept: drawn at least once by the resampling after its step, which only takes good ones
    picked = Counter(result.details["resampling"][0]["picked"])
    assert {n.id for n in first if n.kept} == set(picked) == {0, 2}
    assert all(n.facts["copies"] == picked[n.id] for n in first)
    # each copy drawn grew one child at step 2: the parents are the resampling's picks
    assert Counter(n.parent for n in tree if n.step == 2) == picked
    path = chosen_path(tree)
    assert "".join(n.text for n in path) == result.text and result.answer == "26"


# ---- the store: round trip, one transaction, migration


def _graded(config: str):
    task = Task("apples", [QUESTION])
    return solve_and_grade(
        task, QUESTION, FakeBackend(script), "fake", parse_config(config), 512, 0
    )


def test_the_store_keeps_the_tree_beside_its_result(tmp_path):
    row, samples, steps, tree = _graded(PARTICLES)
    assert len(tree) == 8 and any(n.facts for n in tree)
    store = Store(tmp_path / "r.db")
    store.add(row, samples, steps, tree)
    [stored] = store.results()
    assert store.tree(stored["id"]) == tree  # every field and fact, in the order drawn
    store.close()
    reader = Store(tmp_path / "r.db", readonly=True)
    assert reader.tree(stored["id"]) == tree
    reader.close()
    # the result's question changed: its tree goes with it
    store = Store(tmp_path / "r.db")
    assert store.forget_changed("apples", {QUESTION.id: ("new text", "26")}) == [QUESTION.id]
    assert store.query("SELECT count(*) AS n FROM tree_nodes") == [{"n": 0}]


def test_a_tree_that_cannot_be_written_leaves_no_result(tmp_path):
    row, samples, steps, tree = _graded(PARTICLES)
    store = Store(tmp_path / "r.db")
    with pytest.raises(sqlite3.IntegrityError):
        store.add(row, samples, steps, [*tree, tree[0]])  # a node id twice
    assert store.results() == [] and store.query("SELECT count(*) AS n FROM samples") == [{"n": 0}]


def _version_6_store(path) -> None:
    db = sqlite3.connect(path)
    for script_ in MIGRATIONS[:6]:
        for statement in _statements(script_):
            db.execute(statement)
    db.execute("PRAGMA user_version = 6")
    db.execute("INSERT INTO results (task, question_id, model, config, strategy, params, "
               "verdict) VALUES ('apples', 'apples/0', 'fake', 'beam_search', 'beam_search', "
               "'', 'correct')")  # fmt: skip
    db.commit()
    db.close()


def test_a_version_6_store_reads_without_trees_and_migrates_to_keep_them(tmp_path):
    path = tmp_path / "old.db"
    _version_6_store(path)
    reader = Store(path, readonly=True)  # a viewer neither migrates nor fails
    assert reader.version == 6 and reader.tree(1) == []
    reader.close()
    store = Store(path)
    assert store.version == len(MIGRATIONS) == 8 and store.tree(1) == []
    row, samples, steps, tree = _graded("beam_search:beams=2,expand=2")
    store.add(row, samples, steps, tree)
    added = next(r["id"] for r in store.results() if r["config"] != "beam_search")
    assert store.tree(added) == tree and len(tree) == 8
    store.close()
