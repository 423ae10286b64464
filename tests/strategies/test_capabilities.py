"""Capabilities are declared on the strategy's spec, and the server reads them there: a plugin
strategy that declares token streaming is streamed, and one that declares its sample count is
refused above the policy's max_samples before any engine call (issue 23, item 2)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from thinktime.backends.fake import FakeBackend
from thinktime.serve.app import ServerConfig, create_app
from thinktime.strategies.base import STRATEGIES, Outcome, register_strategy

CHAT = "/v1/chat/completions"
ANSWER = "one two three four five \\boxed{5}"


class EchoParams(BaseModel):
    width: int = Field(1, ge=1, le=64, description="Samples drawn at once (its own name).")


@pytest.fixture
def plugin() -> Iterator[None]:
    """A third-party strategy: one sample's text as its answer (streams), `width` samples."""

    @register_strategy(
        "plugin_echo", "One sample, as written.", "none", EchoParams,
        samples=lambda p: p.width, streams=True,
    )  # fmt: skip
    def plugin_echo(question, ctx, params):  # type: ignore[no-untyped-def]
        [samples] = ctx.sample([ctx.messages(question)], n=params.width)
        return Outcome(samples=samples, chosen=0, answer=samples[0].answer)

    yield
    del STRATEGIES["plugin_echo"]


def _client(backend: FakeBackend) -> TestClient:
    return TestClient(create_app(backend, ServerConfig(model="qwen")), base_url="http://127.0.0.1")


def _body(**thinktime: object) -> dict:
    return {"model": "qwen", "messages": [{"role": "user", "content": "2+3?"}],
            "thinktime": {"strategy": "plugin_echo", **thinktime}}  # fmt: skip


def test_a_plugin_that_declares_streaming_streams_its_tokens(plugin):
    with _client(FakeBackend([ANSWER])).stream("POST", CHAT, json={**_body(), "stream": True}) as r:
        assert r.status_code == 200
        data = [x.removeprefix("data: ") for x in r.iter_lines() if x.startswith("data: ")]
    chunks = [json.loads(x) for x in data[:-1]]
    pieces = [c["choices"][0]["delta"].get("content") for c in chunks if c.get("choices")]
    pieces = [p for p in pieces if p]
    assert len(pieces) > 3 and "".join(pieces).strip() == ANSWER  # token by token, not whole


def test_the_policy_reads_a_plugins_declared_samples_before_any_engine_call(plugin):
    backend = FakeBackend([ANSWER])
    response = _client(backend).post(CHAT, json=_body(params={"width": 17}))
    assert response.status_code == 403, response.text
    assert "max_samples" in response.json()["error"]["message"]
    assert backend.calls == []
    assert _client(backend).post(CHAT, json=_body(params={"width": 4})).status_code == 200


class RoundsParams(BaseModel):
    rounds: int = Field(2, ge=1, le=64, description="Samples drawn, one per call.")


@pytest.fixture
def one_at_a_time() -> Iterator[None]:
    """A plugin that holds one sample at a time but draws `rounds` in all, and declares both,
    with the `details` it wants shown beside its answer."""

    @register_strategy(
        "plugin_rounds", "One sample per round.", "none", RoundsParams,
        drawn=lambda p: p.rounds, facts=("rounds_used",),
    )  # fmt: skip
    def plugin_rounds(question, ctx, params):  # type: ignore[no-untyped-def]
        samples = [ctx.sample([ctx.messages(question)], n=1)[0][0] for _ in range(params.rounds)]
        details = {"rounds_used": len(samples), "internal": "not shown"}
        return Outcome(samples=tuple(samples), chosen=0, answer=samples[0].answer, details=details)

    yield
    del STRATEGIES["plugin_rounds"]


def test_the_policy_reads_the_samples_a_strategy_draws_in_all_not_a_list_of_names(one_at_a_time):
    """`rounds` is no name the server knows: the spec's `drawn` is what it checks, on the
    validated params; a built-in is held the same way (adaptive_consistency's `max_n`)."""

    def body(strategy: str, **params: object) -> dict:
        return {**_body(), "thinktime": {"strategy": strategy, "params": params}}

    backend = FakeBackend([ANSWER])
    response = _client(backend).post(CHAT, json=body("plugin_rounds", rounds=17))
    assert response.status_code == 403 and "17 samples" in response.json()["error"]["message"]
    assert backend.calls == []
    assert _client(backend).post(CHAT, json=body("plugin_rounds", rounds=3)).status_code == 200
    assert len(backend.calls) == 3
    adaptive = body("adaptive_consistency", max_n=17, batch=2)
    assert _client(backend).post(CHAT, json=adaptive).status_code == 403


def test_the_facts_shown_beside_an_answer_are_the_ones_its_strategy_declares(one_at_a_time):
    from io import StringIO

    from rich.console import Console

    from thinktime import solve
    from thinktime.render import show_result

    def shown(strategy: str, **params: object) -> str:
        result = solve("2+3?", backend=FakeBackend([ANSWER]), strategy=strategy, params=params)
        out = StringIO()
        show_result(Console(file=out, width=120), result)
        return out.getvalue()

    mine = shown("plugin_rounds", rounds=3)
    assert "rounds_used: 3" in mine and "internal" not in mine
    assert "difficulty: easy" in shown("route", probe_n=2)
    assert "samples_used" not in shown("self_consistency", n=2)  # declares none
