"""Each test-time strategy once on the real embedded model (short prompts, small budgets)."""

import pytest

from thinktime import solve

pytestmark = pytest.mark.integration
EASY = "Tom has 3 apples and buys 2 more apples. How many apples does Tom have now?"


def test_adaptive_consistency(embedded):
    result = solve(
        EASY,
        backend=embedded,
        strategy="adaptive_consistency",
        max_n=8,
        batch=4,
        max_tokens=200,
        seed=3,
    )
    assert result.answer == "5", result.votes
    assert result.details["samples_used"] in (4, 8)
    assert result.bill.calls == result.details["batches"]


def test_budget_forcing_bounds_thinking(embedded):
    result = solve(
        EASY, backend=embedded, strategy="budget_forcing", max_thinking_tokens=48, seed=3
    )
    assert result.details["thinking_tokens"] <= 48
    assert result.answer is not None
    assert "Final answer: \\boxed{" in result.text


def test_beam_search_with_self_evaluation(embedded):
    result = solve(
        EASY, backend=embedded, strategy="beam_search", beams=2, expand=2, max_steps=4,
        step_tokens=64, seed=3,
    )  # fmt: skip
    assert result.answer is not None
    assert result.bill.verifier_tokens > 0
    assert all(0.0 <= s <= 1.0 for s in result.details["scores"])


def test_route_on_an_easy_question(embedded):
    result = solve(EASY, backend=embedded, strategy="route", max_tokens=200, seed=3)
    assert result.answer == "5"
    assert result.details["difficulty"] in ("easy", "medium", "hard")


def test_best_of_n_with_program_verifier(embedded):
    result = solve(
        EASY,
        backend=embedded,
        strategy="best_of_n",
        n=2,
        verifier="program",
        max_tokens=200,
        seed=3,
    )
    assert result.answer == "5"
    assert result.bill.verifier_tokens > 0


def test_reasoning_effort_low(embedded):
    result = solve(EASY, backend=embedded, reasoning_effort="low")
    assert result.strategy == "cot" and result.answer == "5"
