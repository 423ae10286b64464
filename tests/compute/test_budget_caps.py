"""A token cap binds on every strategy and path: with fewer tokens than samples, fewer samples
are drawn (the bill says how many), never more tokens than the cap (issue 22, item 4)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from thinktime import solve
from thinktime.backends.fake import FakeBackend
from thinktime.serve.app import ServerConfig, create_app
from thinktime.strategies import STRATEGIES

TEN = " ".join(["w"] * 9) + " \\boxed{7}"  # ten fake tokens
CHAT = "/v1/chat/completions"


@pytest.mark.parametrize("cap", [1, 3, 17])
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_no_strategy_spends_past_a_small_token_cap(strategy, cap):
    result = solve(
        "?", backend=FakeBackend([TEN]), strategy=strategy, budget={"max_completion_tokens": cap}
    )
    assert result.bill.completion_tokens <= cap, result.bill
    assert result.bill.samples <= cap  # a sample drawn costs a token at least


@pytest.mark.parametrize(
    ("strategy", "params", "cap"),
    [("self_consistency", {"n": 16}, 1), ("best_of_n", {"n": 8}, 3)],
)
def test_a_cap_under_the_samples_draws_as_many_samples_as_it_pays_for(strategy, params, cap):
    backend = FakeBackend([TEN])
    result = solve(
        "?", backend=backend, strategy=strategy, budget={"max_completion_tokens": cap}, **params
    )
    assert result.bill.completion_tokens == cap and result.bill.samples == cap
    assert result.budget_limited
    [(requests, sampling)] = backend.calls[:1]
    assert sum(r.n for r in requests) == cap and sampling.max_tokens == 1


def test_the_served_cap_binds_for_voting_and_for_an_effort():
    app = create_app(FakeBackend([TEN]), ServerConfig(model="qwen"))
    client = TestClient(app, base_url="http://127.0.0.1")
    question = [{"role": "user", "content": "2+3?"}]
    bodies = [
        {"thinktime": {"strategy": "self_consistency", "params": {"n": 16}}},
        {"reasoning_effort": "high"},
    ]
    for body in bodies:
        body = {"model": "qwen", "messages": question, "max_completion_tokens": 1, **body}
        response = client.post(CHAT, json=body)
        assert response.status_code == 200, response.text
        assert response.json()["usage"]["completion_tokens"] <= 1, response.json()
