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
