"""The server on the scripted backend: OpenAI shapes, strategy selection, streaming, errors."""

import json

import pytest
from fastapi.testclient import TestClient

from thinktime.backends.fake import FakeBackend
from thinktime.serve.app import ServerConfig, create_app

ANSWER = "Two and three make five. \\boxed{5}"
USER = [{"role": "user", "content": "2+3?"}]


def client(script=(ANSWER,), **config) -> tuple[TestClient, FakeBackend]:
    backend = FakeBackend(script)
    return TestClient(
        create_app(backend, ServerConfig(model="qwen", **config)), base_url="http://127.0.0.1"
    ), backend


def test_plain_chat_passes_through():
    c, backend = client()
    r = c.post("/v1/chat/completions", json={"model": "qwen", "messages": USER})
    assert r.status_code == 200
    body = r.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"]["content"] == ANSWER
    assert (
        body["usage"]["total_tokens"]
        == body["usage"]["prompt_tokens"] + body["usage"]["completion_tokens"]
    )
    [(requests, _)] = backend.calls
    assert requests[0].messages[-1].content == "2+3?"


def test_strategy_in_the_model_name_and_usage_matches_the_bill():
    c, _ = client()
    r = c.post("/v1/chat/completions", json={"model": "self_consistency/qwen", "messages": USER,
                                              "thinktime": {"n": 3}})  # fmt: skip
    body = r.json()
    message = body["choices"][0]["message"]
    assert (message["content"], message["reasoning_content"]) == ("5", ANSWER)
    bill = body["thinktime"]["bill"]
    assert body["thinktime"]["votes"] == {"5": 3.0}
    assert body["usage"]["completion_tokens"] == bill["completion_tokens"] == 3 * 6
    assert body["usage"]["prompt_tokens"] == bill["prompt_tokens"]
    assert (
        body["usage"]["completion_tokens_details"]["reasoning_tokens"] == bill["reasoning_tokens"]
    )


def test_reasoning_effort_and_the_thinktime_field():
    c, _ = client()
    high = c.post(
        "/v1/chat/completions", json={"model": "qwen", "messages": USER, "reasoning_effort": "high"}
    )
    assert high.json()["thinktime"]["strategy"] == "adaptive_consistency"
    options = {"strategy": "cot", "budget": {"max_tokens": 3}}
    field = c.post(
        "/v1/chat/completions", json={"model": "qwen", "messages": USER, "thinktime": options}
    )
    assert field.json()["thinktime"]["strategy"] == "cot"
    assert field.json()["thinktime"]["budget_limited"] is True
    assert field.json()["choices"][0]["finish_reason"] == "length"


def test_multi_turn_and_system_prompt_reach_the_model():
    c, backend = client()
    messages = [
        {"role": "system", "content": "Answer like a pirate."},
        {"role": "user", "content": "I have 2 apples."},
        {"role": "assistant", "content": "Arr, 2 apples."},
        {"role": "user", "content": "I buy 3 more. How many now?"},
    ]
    c.post("/v1/chat/completions", json={"model": "cot/qwen", "messages": messages})
    [(requests, _)] = backend.calls
    sent = requests[0].messages
    assert sent[0].role == "system" and sent[0].content.startswith("Answer like a pirate.")
    assert [m.content for m in sent[1:]] == [
        "I have 2 apples.",
        "Arr, 2 apples.",
        "I buy 3 more. How many now?",
    ]


def test_n_choices():
    c, _ = client()
    body = c.post(
        "/v1/chat/completions", json={"model": "cot/qwen", "messages": USER, "n": 2}
    ).json()
    assert [ch["index"] for ch in body["choices"]] == [0, 1]


def _events(response) -> list:
    lines = [
        line.removeprefix("data: ") for line in response.iter_lines() if line.startswith("data: ")
    ]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


def test_streaming_tokens_for_single_sample_strategies():
    c, _ = client()
    with c.stream(
        "POST", "/v1/chat/completions", json={"model": "cot/qwen", "messages": USER, "stream": True}
    ) as r:
        events = _events(r)
    pieces = [e["choices"][0]["delta"].get("content", "") for e in events]
    assert "".join(pieces) == ANSWER
    assert len({e["id"] for e in events}) == 1
    assert events[-1]["choices"][0]["finish_reason"] == "stop"
    assert events[-1]["thinktime"]["answer"] == "5"


def test_streaming_progress_then_answer_for_multi_sample_strategies():
    c, _ = client()
    payload = {
        "model": "self_consistency/qwen",
        "messages": USER,
        "stream": True,
        "thinktime": {"n": 4},
    }
    with c.stream("POST", "/v1/chat/completions", json=payload) as r:
        events = _events(r)
    final = events[-1]
    assert final["choices"][0]["delta"]["content"] == "5"
    assert final["thinktime"]["votes"] == {"5": 4.0}


@pytest.mark.parametrize(
    ("payload", "param"),
    [
        ({"model": "qwen", "messages": USER, "n": 0}, "n"),
        ({"model": "qwen", "messages": USER, "max_tokens": 10**9}, "max_tokens"),
        ({"model": "qwen", "messages": USER, "temperature": "hot"}, "temperature"),
        ({"model": "qwen", "messages": "hello"}, "messages"),
        ({"model": "qwen", "messages": []}, "messages"),
        ({"model": "qwen", "messages": [{"role": "assistant", "content": "hi"}]}, "messages"),
        ({"model": "gpt-99", "messages": USER}, "model"),
        ({"model": "vote/qwen", "messages": USER}, "model"),
        (
            {"model": "qwen", "messages": USER, "thinktime": {"strategy": "vote"}},
            "thinktime.strategy",
        ),
        ({"model": "qwen", "messages": USER, "reasoning_effort": "max"}, "reasoning_effort"),
        ({"messages": USER}, "model"),
    ],
)
def test_bad_input_is_a_400_in_openai_shape(payload, param):
    c, _ = client()
    r = c.post("/v1/chat/completions", json=payload)
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]
    assert error["param"] == param


def test_bad_strategy_params_are_a_400():
    c, _ = client()
    options = {"strategy": "route", "params": {"probe_n": 0}}
    r = c.post(
        "/v1/chat/completions", json={"model": "qwen", "messages": USER, "thinktime": options}
    )
    assert (
        r.status_code == 400
        and "bad parameters for strategy 'route'" in r.json()["error"]["message"]
    )


def test_malformed_json_and_oversized_body():
    c, _ = client(max_body_bytes=1000)
    for raw in (b"{not json", b"\x80\xff"):  # not JSON, not UTF-8
        reply = c.post(
            "/v1/chat/completions", content=raw, headers={"Content-Type": "application/json"}
        )
        assert reply.status_code == 400
    big = c.post(
        "/v1/chat/completions",
        json={"model": "qwen", "messages": [{"role": "user", "content": "x" * 5000}]},
    )
    assert big.status_code == 413


def test_api_key_and_full_queue():
    c, _ = client(api_key="s3cret")
    assert (
        c.post("/v1/chat/completions", json={"model": "qwen", "messages": USER}).status_code == 401
    )
    ok = c.post("/v1/chat/completions", json={"model": "qwen", "messages": USER},
                headers={"Authorization": "Bearer s3cret"})  # fmt: skip
    assert ok.status_code == 200
    full, _ = client(max_queue=0)
    r = full.post("/v1/chat/completions", json={"model": "qwen", "messages": USER})
    assert r.status_code == 429 and r.headers["retry-after"] == "1"


def test_models_health_metrics():
    c, _ = client()
    ids = [m["id"] for m in c.get("/v1/models").json()["data"]]
    assert "qwen" in ids and "self_consistency/qwen" in ids and "plain/qwen" in ids
    assert c.get("/health").json()["status"] == "ok"
    c.post("/v1/chat/completions", json={"model": "qwen", "messages": USER})
    text = c.get("/metrics").text
    assert 'thinktime_requests_total{status="200"} 1.0' in text
    assert "thinktime_queue_depth 0.0" in text
    assert "thinktime_request_seconds_bucket" in text


def test_a_served_name_with_a_slash_takes_a_strategy_prefix():
    client = TestClient(
        create_app(FakeBackend(["\\boxed{5}"]), ServerConfig(model="org/m")),
        base_url="http://127.0.0.1",
    )
    reply = client.post("/v1/chat/completions", json={"model": "cot/org/m", "messages": USER})
    assert reply.status_code == 200 and reply.json()["thinktime"]["strategy"] == "cot"
