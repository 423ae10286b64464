"""Pairwise tournaments on the scripted backend: who meets whom in a knockout (byes included),
how a round robin counts wins, how swapping the order cancels a model that always says "A",
each round in one batched call, and a budget that binds; then once on the real model."""

from __future__ import annotations

import re
import time

import pytest

from thinktime import solve
from thinktime.backends.fake import FakeBackend
from thinktime.strategies import get_strategy
from thinktime.types import Request


def comparing(request: Request) -> bool:
    return request.prompt is None and request.messages[0].content.startswith("You compare")


def shown(request: Request) -> tuple[str, str]:
    """The answers of solutions A and B in a comparison prompt."""
    a, b = re.findall(r"\\boxed\{(\d+)\}", request.messages[1].content)
    return a, b


def model(answers: list[str], judge) -> FakeBackend:
    """Candidates with these answers (in order); comparisons answered by `judge(a, b)`."""

    def script(request: Request, index: int) -> str:
        if comparing(request):
            return judge(*shown(request))
        return f"so \\boxed{{{answers[index]}}}"

    return FakeBackend(script)


def higher(a: str, b: str) -> str:
    return "A" if int(a) > int(b) else "B"


def always_a(a: str, b: str) -> str:
    return "A"


def pairs(result) -> list[list[list[int]]]:
    return [[m["pair"] for m in r["matches"]] for r in result.details["rounds"]]


def test_knockout_bracket_order_and_byes():
    backend = model(["1", "2", "3", "4", "5"], higher)
    result = solve("?", backend=backend, strategy="tournament", n=5, comparisons=1)
    # drawn order 0–1, 2–3 (4 has a bye); the bye plays first next round; then the final
    assert pairs(result) == [[[0, 1], [2, 3]], [[4, 1]], [[3, 4]]]
    assert [r["bye"] for r in result.details["rounds"]] == [4, 3, None]
    assert result.answer == "5" and result.chosen == 4 and result.details["champion"] == 4
    assert result.details["wins"] == [0, 1, 0, 1, 2]
    # the draw, then one batched call per round holding all of that round's comparisons
    comparisons = [len(requests) for requests, _ in backend.calls[1:]]
    assert comparisons == [2, 1, 1] and result.details["comparisons"] == 4
    assert all(comparing(r) for requests, _ in backend.calls[1:] for r in requests)
    assert result.bill.verifier_tokens > 0 and result.bill.samples == 5  # candidates only


def test_a_round_robin_counts_wins_and_breaks_ties_by_the_earlier_candidate():
    def cycle(a: str, b: str) -> str:  # higher wins, except that 1 beats 4
        winner = "1" if {a, b} == {"1", "4"} else max(a, b)
        return "A" if winner == a else "B"

    backend = model(["1", "2", "3", "4"], cycle)
    result = solve("?", backend=backend, strategy="tournament", n=4, mode="round_robin")
    assert pairs(result) == [[[0, 1], [0, 2], [0, 3], [1, 2], [1, 3], [2, 3]]]
    assert result.details["wins"] == [1, 1, 2, 2]
    assert result.answer == "3"  # tied with "4" on wins and votes: the earlier one
    [(requests, _)] = backend.calls[1:]  # every pair, both orders, in one call
    assert len(requests) == 12 and result.details["comparisons"] == 12


def test_swapping_the_order_cancels_a_model_that_always_says_a():
    answers = ["5", "7", "9", "7"]
    once = solve("?", backend=model(answers, always_a), strategy="tournament", n=4, comparisons=1)
    assert once.answer == "5"  # the first shown always wins: candidate 0 takes the bracket
    backend = model(answers, always_a)
    both = solve("?", backend=backend, strategy="tournament", n=4, comparisons=2)
    # every compared match is a draw (0.5), so the answer more candidates reached advances;
    # the final meets two equal answers and needs no call
    assert [[m["preference"] for m in r["matches"]] for r in both.details["rounds"]] == [
        [0.5, 0.5],
        [0.5],
    ]
    assert both.answer == "7" and pairs(both) == [[[0, 1], [2, 3]], [[1, 3]]]
    assert [m["compared"] for m in both.details["rounds"][1]["matches"]] == [False]
    [(requests, _)] = backend.calls[1:]
    assert [shown(r) for r in requests] == [("5", "7"), ("7", "5"), ("9", "7"), ("7", "9")]


def test_a_round_robin_tie_in_wins_goes_to_the_answer_with_more_votes():
    backend = model(["5", "7", "7"], always_a)
    result = solve("?", backend=backend, strategy="tournament", n=3, mode="round_robin")
    assert result.details["wins"] == [1.0, 1.0, 1.0]  # two draws each
    assert [m["winner"] for m in result.details["rounds"][0]["matches"]] == [None] * 3
    assert result.answer == "7" and result.chosen == 1


def test_a_missing_answer_loses_without_a_comparison():
    backend = FakeBackend(["no idea", "so \\boxed{4}"])
    result = solve("?", backend=backend, strategy="tournament", n=2)
    assert result.answer == "4" and len(backend.calls) == 1  # the draw only
    [[match]] = [r["matches"] for r in result.details["rounds"]]
    assert match == {"pair": [0, 1], "preference": 0.0, "winner": 1, "compared": False}


def test_logprobs_of_the_letters_decide_a_match():
    def judge(request: Request, index: int) -> str:
        if comparing(request):
            return "B" if shown(request)[1] == "9" else "A"
        return ["so \\boxed{8}", "so \\boxed{9}"][index]

    # the fake's letter has logprob -0.05 and its alternatives are "~A"/"~B": P(letter) = 1
    result = solve("?", backend=FakeBackend(judge), strategy="tournament", n=2)
    assert result.answer == "9" and result.details["rounds"][0]["matches"][0]["preference"] == 0


def test_a_token_budget_binds_between_rounds():
    ten = [f"{' '.join(['w'] * 9)} \\boxed{{{a}}}" for a in ("5", "7", "7", "9")]
    backend = FakeBackend(lambda r, i: "A" if comparing(r) else ten[i])
    result = solve("?", backend=backend, strategy="tournament", n=4, budget={"max_tokens": 40})
    assert len(backend.calls) == 1 and result.details["rounds"] == []  # no comparison paid
    assert result.answer == "7" and result.budget_limited  # the most votes, among all
    backend = FakeBackend(lambda r, i: "A" if comparing(r) else ten[i])
    result = solve("?", backend=backend, strategy="tournament", n=4, budget={"max_tokens": 42})
    assert result.bill.completion_tokens <= 42 and result.budget_limited
    assert len(result.details["rounds"]) == 1 and len(backend.calls) == 2


def test_the_spec_declares_the_candidates_it_draws():
    spec = get_strategy("tournament")
    params = spec.parse_params({"n": 6, "mode": "round_robin"})
    assert spec.samples(params) == 6 and spec.samples_drawn(params) == 6
    assert not spec.uses_verifier  # the generating model compares; no verifier is taken
    assert spec.tokens is not None and spec.tokens(params) == (1.0 + 15 * 2, 6.0)


@pytest.mark.integration
def test_tournament_on_the_real_model(embedded):
    easy = "Tom has 3 apples and buys 2 more apples. How many apples does Tom have now?"
    started = time.perf_counter()
    result = solve(
        easy, backend=embedded, strategy="tournament", n=3, max_tokens=160, seed=3
    )  # fmt: skip
    seconds = time.perf_counter() - started
    print(f"tournament: {seconds:.1f}s, answer {result.answer}, rounds {result.details['rounds']}")
    assert len(result.details["rounds"]) == 2  # 0–1 (2 has a bye), then the final
    assert result.answer is not None and result.samples[result.chosen].answer == result.answer
    compared = [m for r in result.details["rounds"] for m in r["matches"] if m["compared"]]
    assert all(0.0 <= m["preference"] <= 1.0 for m in compared)
    assert result.bill.verifier_tokens > 0 or not compared
