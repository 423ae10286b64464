"""mcts: UCT selection, backup, expansion, rollouts, the answer's selection, budgets and the
tree it records — on a scripted backend with a scripted verifier — and once on the real model."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import pytest

from thinktime import solve
from thinktime.backends.fake import FakeBackend
from thinktime.compute.ledger import Ledger
from thinktime.errors import ThinktimeError
from thinktime.strategies import get_strategy
from thinktime.strategies.mcts import Node, backup, best_child, most_visited_path, select, uct
from thinktime.types import Result

EASY = "Tom has 3 apples and buys 2 more apples. How many apples does Tom have now?"


class StepRewards:
    """A scripted verifier: a candidate's reward is looked up from its last step's text; it
    records how many candidates each call scored and whether they were partial."""

    name = "scripted"

    def __init__(self, rewards: dict[str, float], default: float = 0.5) -> None:
        self.rewards, self.default = rewards, default
        self.calls: list[tuple[int, bool]] = []

    def score(
        self, question: str, candidates: Sequence[str], ledger: Ledger, partial: bool = False
    ) -> list[float]:
        self.calls.append((len(candidates), partial))
        last = [c.rstrip().split("\n\n")[-1] for c in candidates]
        return [self.rewards.get(step, self.default) for step in last]


def so_far(request) -> str:
    """The partial solution in a continuation request (after the fake chat template)."""
    return (request.prompt or "").split("\nassistant: ")[-1]


def sampling_calls(backend: FakeBackend) -> list[list]:
    """The generating model's calls that continue raw text (its steps)."""
    return [requests for requests, _ in backend.calls if requests[0].prompt is not None]


def run(script: Callable, verifier: StepRewards, **params) -> tuple[FakeBackend, Result]:
    backend = FakeBackend(script)
    result = solve("?", backend=backend, strategy="mcts", verifier=verifier, **params)
    return backend, result


def _hand_made() -> list[Node]:
    """A root visited 10 times with three children: Q 0.5 (6 visits), 0.8 (3), 0.1 (1)."""
    root = Node(visits=10, value=5.3, children=[1, 2, 3])
    return [
        root,
        Node("a", parent=0, depth=1, visits=6, value=3.0),
        Node("b", parent=0, depth=1, visits=3, value=2.4),
        Node("c", parent=0, depth=1, visits=1, value=0.1),
    ]


def test_uct_selection_picks_the_right_child_on_a_hand_made_tree():
    nodes = _hand_made()
    # c = 0: pure exploitation, the best mean value
    assert best_child(nodes, 0, 0.0) == 2
    # c = 2: the once-visited child's exploration term wins: 0.1 + 2·sqrt(ln 10 / 1)
    scores = [uct(nodes[i], 10, 2.0) for i in (1, 2, 3)]
    assert scores == pytest.approx(
        [0.5 + 2 * math.sqrt(math.log(10) / 6), 0.8 + 2 * math.sqrt(math.log(10) / 3),
         0.1 + 2 * math.sqrt(math.log(10) / 1)]
    )  # fmt: skip
    assert best_child(nodes, 0, 2.0) == 3
    # an unvisited child competes by its own reward (its Q until visited)
    nodes.append(Node("d", reward=0.95, parent=0, depth=1))
    nodes[0].children.append(4)
    assert best_child(nodes, 0, 0.0) == 4


def test_selection_descends_to_a_leaf_and_stops_at_a_terminal_or_the_depth_limit():
    nodes = _hand_made()
    nodes += [Node("b1", reward=0.2, parent=2, depth=2), Node("b2", reward=0.7, parent=2, depth=2)]
    nodes[2].children = [4, 5]
    assert select(nodes, 0.0, max_depth=10) == [0, 2, 5]
    nodes[5].children = [6]
    nodes.append(Node("b2x", reward=0.5, parent=5, depth=3))
    nodes[5].terminal = True  # a terminal node is a leaf even with children
    assert select(nodes, 0.0, max_depth=10) == [0, 2, 5]
    nodes[5].terminal = False
    assert select(nodes, 0.0, max_depth=2) == [0, 2, 5]  # as deep as a path may go
    assert select(nodes, 0.0, max_depth=3) == [0, 2, 5, 6]


def test_backup_adds_the_value_to_every_node_on_the_path_and_q_is_the_mean():
    nodes = _hand_made()
    nodes.append(Node("b1", reward=0.2, parent=2, depth=2))
    nodes[2].children = [4]
    backup(nodes, [0, 2, 4], 1.0)
    backup(nodes, [0, 2, 4], 0.0)
    assert [nodes[i].visits for i in (0, 2, 4)] == [12, 5, 2]
    assert [nodes[i].value for i in (0, 2, 4)] == pytest.approx([6.3, 3.4, 1.0])
    assert nodes[4].q == pytest.approx(0.5) and nodes[2].q == pytest.approx(3.4 / 5)
    assert nodes[1].visits == 6  # off the path: untouched
    assert most_visited_path(nodes) == [0, 1]  # 6 visits beat 5


def test_each_expansion_is_one_call_of_k_steps_scored_in_one_call():
    def script(request, index):
        if so_far(request).endswith("\\boxed{"):
            return "7}"
        return f"step {index}"  # never an answer

    verifier = StepRewards({}, default=0.5)
    backend, result = run(script, verifier, iterations=3, expand=3, stop_visits=0)
    expansions = [r for r in sampling_calls(backend) if not so_far(r[0]).endswith("\\boxed{")]
    assert [[req.n for req in call] for call in expansions] == [[3], [3], [3]]
    assert verifier.calls == [(3, True)] * 3
    assert result.details["iterations"] == 3 and result.details["nodes"] == 9
    # nothing finished: the most-visited path was made to answer
    assert result.answer == "7"
    assert backend.calls[-1][1].temperature == 0.0


def _two_branches(request, index):
    text = so_far(request)
    if not text:
        return ["alpha", "beta"][index % 2]
    return "alpha done \\boxed{1}" if text.startswith("alpha") else "beta done \\boxed{2}"


BRANCH_REWARDS = {
    "alpha": 0.9,
    "beta": 0.43,
    "alpha done \\boxed{1}": 0.3,
    "beta done \\boxed{2}": 1.0,
}


def test_the_answer_is_the_most_visited_path_or_the_best_valued_solution():
    """c = 0: alpha's high first reward keeps selection there until its mean value (dragged
    down by its 0.3 answer) falls below beta's 0.43 after 5 visits; beta then finds a 1.0
    answer and keeps the last 3 iterations, still fewer visits than alpha's 5."""
    common = dict(iterations=8, expand=2, exploration=0.0, stop_visits=0)
    _, by_visits = run(_two_branches, StepRewards(BRANCH_REWARDS), **common)
    _, by_value = run(_two_branches, StepRewards(BRANCH_REWARDS), selection="value", **common)
    tree = by_visits.details["tree"]
    first = {n["text"].strip(): n for n in tree if n["parent"] is None}
    assert first["alpha"]["visits"] == 5 and first["beta"]["visits"] == 3
    assert first["alpha"]["score"] == pytest.approx((0.9 + 4 * 0.3) / 5, abs=1e-4)
    assert by_visits.answer == "1" and by_value.answer == "2"
    # both solutions are samples, scored by their Q; the chosen path is marked in the tree
    assert sorted(s.answer for s in by_value.samples) == ["1", "2"]
    chosen = [n for n in by_value.details["tree"] if n["chosen"]]
    assert [n["text"].strip() for n in chosen] == ["beta", "beta done \\boxed{2}"]


def test_reaching_one_answer_stop_visits_times_stops_the_search():
    _, result = run(
        _two_branches, StepRewards(BRANCH_REWARDS), iterations=20, expand=2, exploration=0.0,
        stop_visits=3,
    )  # fmt: skip
    # 1 expands the root, 2 reaches "1" once (expanding alpha), 3 and 4 reach it again
    assert result.details["iterations"] == 4 and result.answer == "1"


def test_a_rollout_values_a_new_node_by_a_finished_solution():
    def script(request, index):
        text = so_far(request)
        if not text:
            return "alpha\n\nmore"  # the step ends at the blank line
        return "so \\boxed{3}"

    verifier = StepRewards({"alpha": 0.2, "so \\boxed{3}": 0.8})
    backend, result = run(script, verifier, iterations=1, expand=2, rollout=True)
    # the expansion's two steps (partial), then the rollout's finished solution
    assert verifier.calls == [(2, True), (1, False)]
    rollout_call = sampling_calls(backend)[1]
    assert rollout_call[0].n == 1 and backend.calls[1][1].stop == ()
    tree = result.details["tree"]
    rollout = next(n for n in tree if n.get("rollout"))
    assert rollout["parent"] == 0 and rollout["score"] == 0.8 and rollout["chosen"]
    assert tree[0]["visits"] == 1 and tree[0]["score"] == 0.8  # backed up: the rollout's value
    assert result.answer == "3"
    assert result.samples[result.chosen].text == "alpha\n\nso \\boxed{3}"


def test_the_token_budget_stops_the_search():
    def script(request, index):
        return "one two three four five"  # five tokens a step, never an answer

    verifier = StepRewards({}, default=0.5)
    _, result = run(
        script, verifier, iterations=50, expand=2, stop_visits=0,
        budget={"max_completion_tokens": 30},
    )  # fmt: skip
    assert result.details["iterations"] < 50
    assert result.bill.completion_tokens <= 30
    assert result.budget_limited


def test_the_spec_declares_its_widest_call_and_its_samples_in_all():
    spec = get_strategy("mcts")
    params = spec.parse_params({"iterations": 4, "expand": 3, "rollout": True})
    # k steps at once; per iteration k steps and a rollout, then one forced answer
    assert spec.samples(params) == 3 and spec.samples_drawn(params) == 17
    assert spec.steps and spec.uses_verifier and spec.continues_text


def test_the_tree_records_every_node_with_its_visits_and_value():
    _, result = run(_two_branches, StepRewards(BRANCH_REWARDS), iterations=8, expand=2,
                    exploration=0.0, stop_visits=0)  # fmt: skip
    tree = result.details["tree"]
    assert [n["id"] for n in tree] == list(range(len(tree))) == list(range(6))
    assert all(n["parent"] is None or n["parent"] < n["id"] for n in tree)
    assert all(n["kept"] == (n["visits"] > 0) for n in tree)  # visited nodes are kept
    assert {n["terminal"] for n in tree if n["step"] == 2} == {True}
    assert sum(n["visits"] for n in tree if n["parent"] is None) == 8
    chosen = [n for n in tree if n["chosen"]]
    assert [n["text"].strip() for n in chosen] == ["alpha", "alpha done \\boxed{1}"]


def test_the_bench_stores_the_mcts_tree_beside_its_result(tmp_path):
    from tests.helpers.tree_store import QUESTION, script
    from thinktime.bench.configs import parse_config
    from thinktime.bench.runner import solve_and_grade
    from thinktime.bench.store import Store
    from thinktime.tasks import Task

    config = parse_config("mcts:iterations=4,expand=2,rollout=true")
    task = Task("apples", [QUESTION])
    row, samples, steps, tree = solve_and_grade(
        task, QUESTION, FakeBackend(script), "fake", config, 512, 0
    )
    assert row["verdict"] == "correct"
    assert any(n.facts.get("rollout") for n in tree) and any(n.chosen for n in tree)
    store = Store(tmp_path / "r.db")
    store.add(row, samples, steps, tree)
    [stored] = store.results()
    assert store.tree(stored["id"]) == tree  # visits, reward, terminal, rollout kept
    store.close()


def test_self_certainty_rewards_each_step_by_the_models_own_certainty():
    def script(request, index):
        text = so_far(request)
        if not text:
            return ["sure sure", "maybe perhaps"][index % 2]
        return "\\boxed{1}" if text.startswith("sure") else "\\boxed{2}"

    backend = FakeBackend(script, confidence=lambda token: 5.0 if "sure" in token else 0.2)
    result = solve("?", backend=backend, strategy="mcts", verifier="self_certainty",
                   expand=2, iterations=3)  # fmt: skip
    tree = result.details["tree"]
    sure, unsure = (next(n for n in tree if n["text"].startswith(w)) for w in ("sure", "maybe"))
    assert sure["reward"] > unsure["reward"]
    assert backend.calls[0][1].top_logprobs > 0
    assert result.answer == "1"


@pytest.mark.parametrize(
    ("params", "message"),
    [({"expand": 0}, "expand"), ({"exploration": -1}, "exploration"), ({"beams": 2}, "beams")],
)
def test_bad_params_are_refused(params, message):
    with pytest.raises(ThinktimeError, match=message):
        solve("?", backend=FakeBackend(), strategy="mcts", params=params)


@pytest.mark.integration
def test_mcts_on_the_real_model(embedded):
    result = solve(
        EASY, backend=embedded, strategy="mcts", iterations=2, expand=2, step_tokens=24,
        max_tokens=24, seed=3,
    )  # fmt: skip
    assert result.details["iterations"] <= 2
    assert result.bill.completion_tokens > 0 and result.bill.verifier_tokens > 0
    tree = result.details["tree"]
    assert tree and all(n["parent"] is None or n["parent"] < n["id"] for n in tree)
    assert result.chosen is not None and any(n["chosen"] for n in tree)
