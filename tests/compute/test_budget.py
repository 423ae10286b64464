"""Budgets: caps shrink calls, strategies stop early and say so, efforts map to budgets."""

import pytest

from thinktime import solve
from thinktime.backends.fake import FakeBackend
from thinktime.compute.budget import Budget
from thinktime.errors import ThinktimeError
from thinktime.strategies.effort import effort_for
from thinktime.types import Bill

TEN = " ".join(["w"] * 9) + " \\boxed{7}"  # ten fake tokens


def test_exceeded_and_tokens_left():
    budget = Budget(max_tokens=100, max_flops=1e6)
    assert not budget.exceeded(Bill(completion_tokens=99))
    assert budget.exceeded(Bill(completion_tokens=100))
    assert budget.exceeded(Bill(flops=10**6))
    assert budget.tokens_left(Bill(completion_tokens=40, flops=0), flops_per_token=1e4) == 60
    assert budget.tokens_left(Bill(completion_tokens=0, flops=9 * 10**5), flops_per_token=1e4) == 10
    assert Budget().tokens_left(Bill(), None) is None


def test_budget_shrinks_a_call_and_marks_the_result():
    result = solve(
        "?", backend=FakeBackend([TEN]), strategy="self_consistency", n=4, budget={"max_tokens": 20}
    )
    assert result.budget_limited
    assert result.bill.completion_tokens <= 20
    assert all(s.completion_tokens == 5 for s in result.samples)


def test_adaptive_stops_mid_strategy_when_budget_runs_out():
    answers = iter(["\\boxed{1}", "\\boxed{2}"] * 50)
    backend = FakeBackend(lambda request, i: next(answers))
    result = solve(
        "?",
        backend=backend,
        strategy="adaptive_consistency",
        max_n=64,
        budget=Budget(max_tokens=12),
    )
    assert result.budget_limited
    assert result.details["samples_used"] < 64
    assert result.answer in ("1", "2")  # the best answer so far, not nothing


def test_verify_revise_stops_revising_when_out_of_budget():
    script = ["\\boxed{1}", "VERDICT: INCORRECT", "\\boxed{2}", "VERDICT: INCORRECT", "\\boxed{3}"]
    result = solve(
        "?",
        backend=FakeBackend(script),
        strategy="verify_revise",
        max_rounds=5,
        budget={"max_tokens": 2},
    )
    assert result.budget_limited
    assert result.answer == "1"


def test_unlimited_is_not_marked():
    assert not solve("?", backend=FakeBackend([TEN]), strategy="cot").budget_limited


def test_bad_budget_is_a_clear_error():
    with pytest.raises(ThinktimeError, match="bad budget"):
        solve("?", backend=FakeBackend(), budget={"max_tokens": -1})
    with pytest.raises(ThinktimeError, match="bad budget"):
        solve("?", backend=FakeBackend(), budget={"tokens": 5})


def test_reasoning_effort_picks_strategy_and_budget():
    low = solve("?", backend=FakeBackend([TEN]), reasoning_effort="low")
    assert low.strategy == "cot"
    high = solve("?", backend=FakeBackend(["\\boxed{7}"]), reasoning_effort="high")
    assert high.strategy == "adaptive_consistency"
    explicit = solve("?", backend=FakeBackend([TEN]), reasoning_effort="high", strategy="direct")
    assert explicit.strategy == "direct"
    with pytest.raises(
        ThinktimeError, match="unknown reasoning_effort 'max'; choose one of: low, medium, high"
    ):
        solve("?", backend=FakeBackend(), reasoning_effort="max")


def test_effort_table_per_model_and_user_override(tmp_path, monkeypatch):
    table = tmp_path / "efforts.toml"
    table.write_text(
        '[models."tiny".high]\nstrategy = "self_consistency"\nn = 3\nmax_tokens = 99\n'
    )
    monkeypatch.setenv("THINKTIME_EFFORTS", str(table))
    effort = effort_for("high", "tiny")
    assert (effort.strategy, effort.params, effort.budget.max_completion_tokens) == (
        "self_consistency",
        {"n": 3},
        99,
    )
    assert effort_for("high", "other").strategy == "adaptive_consistency"


def test_a_budget_that_shrinks_the_caps_limits_only_answers_it_cut():
    """Sharing the budget between samples lowers each one's cap; the answer is budget-limited
    only when a sample actually ran into that cap."""
    budget = {"max_completion_tokens": 40}  # 10 tokens for each of 4 samples
    short = solve("?", backend=FakeBackend(["\\boxed{7}"]), strategy="self_consistency", n=4,
                  budget=budget)  # fmt: skip
    assert not short.budget_limited
    cut = solve("?", backend=FakeBackend([" ".join(["w"] * 30)]), strategy="self_consistency",
                n=4, budget=budget)  # fmt: skip
    assert cut.budget_limited
