"""Every server path goes through `solve` and returns a bill; usage (streamed too) is that bill;
replies are built from the typed models (scripted backend)."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from thinktime import solve
from thinktime.backends.fake import FakeBackend, tokenize
from thinktime.serve.app import ServerConfig, create_app
from thinktime.serve.schemas import ChatCompletion, ChatCompletionChunk
from thinktime.strategies import STRATEGIES
from thinktime.types import Message

ANSWER = "Two and three make five. \\boxed{5}"
USER = [{"role": "user", "content": "2+3?"}]
CHAT = "/v1/chat/completions"


def client(backend: FakeBackend | None = None, **config) -> TestClient:
    backend = backend or FakeBackend([ANSWER])
    return TestClient(
        create_app(backend, ServerConfig(model="qwen", **config)), base_url="http://127.0.0.1"
    )


def events(c: TestClient, **fields) -> list[dict]:
    body = {"model": "qwen", "messages": USER, "stream": True, **fields}
    with c.stream("POST", CHAT, json=body) as response:
        assert response.status_code == 200
        lines = [x.removeprefix("data: ") for x in response.iter_lines() if x.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


def test_plain_is_a_registered_strategy_that_passes_the_conversation_unchanged():
    assert "plain" in STRATEGIES
    backend = FakeBackend([ANSWER])
    history = (Message("system", "Be terse."), Message("user", "Hi"), Message("assistant", "Hi."))
    result = solve("2+3?", backend=backend, strategy="plain", history=history)
    assert (result.answer, result.text, result.strategy) == (None, ANSWER, "plain")
    [(requests, params)] = backend.calls
    assert requests[0].messages == (*history, Message("user", "2+3?"))
    assert params.temperature == 0.7  # the plain model samples as it did before
    assert result.bill.completion_tokens == len(tokenize(ANSWER))


@pytest.mark.parametrize("model", ["qwen", "plain/qwen"])
def test_plain_chat_is_billed_and_usage_is_the_bill(model):
    body = client().post(CHAT, json={"model": model, "messages": USER}).json()
    extension, usage = body["thinktime"], body["usage"]
    assert extension["strategy"] == "plain" and extension["answer"] is None
    bill = extension["bill"]
    assert body["choices"][0]["message"] == {
        "role": "assistant",
        "content": ANSWER,
        "reasoning_content": None,
        "reasoning": None,  # the same, under vLLM's name (`serve --reasoning-field both`)
    }
    assert usage["prompt_tokens"] == bill["prompt_tokens"] > 0
    assert usage["completion_tokens"] == bill["completion_tokens"] == len(tokenize(ANSWER))
    assert usage["completion_tokens_details"]["reasoning_tokens"] == bill["reasoning_tokens"]
    assert bill["calls"] == 1


def test_usage_of_several_choices_is_the_sum_of_their_bills():
    body = client().post(CHAT, json={"model": "cot/qwen", "messages": USER, "n": 3}).json()
    bills = [extension["bill"] for extension in body["thinktime"]]
    for kind in ("prompt_tokens", "completion_tokens", "reasoning_tokens"):
        spent = body["usage"].get(kind, body["usage"]["completion_tokens_details"].get(kind))
        assert spent == sum(bill[kind] for bill in bills)


def test_plain_chat_stops_at_the_engine_on_a_504():
    """The passthrough runs in `solve` now: the ledger's cancel reaches a Cancellable engine."""
    from tests.serve.test_hardening import SlowBackend

    backend = SlowBackend()
    response = client(backend, timeout=0.3).post(CHAT, json={"model": "qwen", "messages": USER})
    assert response.status_code == 504
    assert backend.stopped_at  # the engine call ended (cancelled), it did not run its 30 s


def test_a_token_stream_ends_with_usage_when_asked():
    chunks = events(client(), model="cot/qwen", stream_options={"include_usage": True})
    last, pieces = chunks[-1], chunks[1:-2]
    assert last["choices"] == [] and chunks[-2]["choices"][0]["finish_reason"] == "stop"
    usage = last["usage"]
    assert usage["completion_tokens"] == len(pieces) == len(tokenize(ANSWER))
    plain = client().post(CHAT, json={"model": "cot/qwen", "messages": USER}).json()["usage"]
    assert usage == plain  # the stream went through solve: the same bill as the plain answer
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["completion_tokens_details"]["reasoning_tokens"] == 5  # before \\boxed{5}
    assert all("usage" not in chunk for chunk in chunks[:-1])


def test_a_token_stream_runs_the_strategy_itself():
    """Streaming goes through `solve`: `direct` keeps its own answer cap while it streams."""
    long = " ".join(["word"] * 100)
    chunks = events(client(FakeBackend([long])), model="direct/qwen",
                    stream_options={"include_usage": True})  # fmt: skip
    pieces = [c for c in chunks[1:-2] if c["choices"][0]["delta"].get("content")]
    assert len(pieces) == 32 and chunks[-1]["usage"]["completion_tokens"] == 32


def test_a_progress_stream_ends_with_the_bill_as_usage():
    options = {"strategy": "self_consistency", "n": 3}
    chunks = events(client(), thinktime=options, stream_options={"include_usage": True})
    answer, last = chunks[-2], chunks[-1]
    bill = answer["thinktime"]["bill"]
    assert answer["choices"][0]["delta"]["content"] == "5"
    assert last["choices"] == []
    assert last["usage"]["prompt_tokens"] == bill["prompt_tokens"]
    assert last["usage"]["completion_tokens"] == bill["completion_tokens"] == 3 * 6


def test_no_usage_chunk_unless_asked():
    for model in ("cot/qwen", "self_consistency/qwen"):
        assert all(chunk["choices"] for chunk in events(client(), model=model))


def test_replies_and_chunks_are_the_typed_models():
    c = client()
    body = c.post(CHAT, json={"model": "best_of_n/qwen", "messages": USER}).json()
    assert ChatCompletion.model_validate(body).usage.total_tokens > 0
    for model in ("qwen", "cot/qwen", "self_consistency/qwen"):
        chunks = events(c, model=model, stream_options={"include_usage": True})
        parsed = [ChatCompletionChunk.model_validate(chunk) for chunk in chunks]
        assert parsed[0].choices[0].delta.role == "assistant"
        assert {chunk.id for chunk in parsed} == {parsed[0].id}
        assert "role" not in chunks[1]["choices"][0]["delta"]  # a delta carries what changed


def test_openapi_documents_the_reply_and_lists_each_strategy_once():
    c = client()
    document = c.get("/openapi.json").json()
    ok = document["paths"]["/v1/chat/completions"]["post"]["responses"]["200"]
    assert ok["content"]["application/json"]["schema"]["$ref"].endswith("/ChatCompletion")
    assert "ChatCompletion" in document["components"]["schemas"]
    ids = [m["id"] for m in c.get("/v1/models").json()["data"]]
    assert len(ids) == len(set(ids)) and "plain/qwen" in ids
