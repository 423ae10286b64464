"""Wire fields mean what OpenAI means (scripted backend): max_completion_tokens is a choice's
total, sampling fields reach the engine, unimplemented fields are refused, harmless ones pass."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from thinktime.backends.fake import FakeBackend
from thinktime.serve.app import ServerConfig, create_app
from thinktime.serve.policy import ServerPolicy

USER = [{"role": "user", "content": "2+3?"}]
CHAT = "/v1/chat/completions"
LONG = [" ".join(["step"] * 200) + " so \\boxed{5}", " ".join(["think"] * 150) + " \\boxed{5}"]


def client(script=LONG, **config) -> tuple[TestClient, FakeBackend]:
    backend = FakeBackend(script)
    return TestClient(
        create_app(backend, ServerConfig(model="qwen", **config)), base_url="http://127.0.0.1"
    ), backend


def post(c: TestClient, **fields) -> dict:
    response = c.post(CHAT, json={"model": "qwen", "messages": USER, **fields})
    assert response.status_code == 200, response.text
    return dict(response.json())


@pytest.mark.parametrize("name", ["max_completion_tokens", "max_tokens"])
def test_max_completion_tokens_is_the_whole_answer_of_a_choice(name):
    c, _ = client()
    body = post(c, reasoning_effort="high", **{name: 60})
    assert body["thinktime"]["strategy"] == "adaptive_consistency"
    assert body["usage"]["completion_tokens"] <= 60
    assert body["usage"]["completion_tokens"] == body["thinktime"]["bill"]["completion_tokens"]
    assert body["choices"][0]["finish_reason"] == "length"
    assert body["thinktime"]["budget_limited"] is True


def test_each_of_n_choices_has_the_whole_total():
    c, _ = client()
    body = post(c, n=2, max_completion_tokens=40, thinktime={"strategy": "self_consistency",
                                                              "n": 4})  # fmt: skip
    bills = [extension["bill"]["completion_tokens"] for extension in body["thinktime"]]
    assert all(0 < spent <= 40 for spent in bills)
    assert body["usage"]["completion_tokens"] == sum(bills)


@pytest.mark.parametrize(
    ("fields", "default", "cap"),
    [
        ({"max_completion_tokens": 50}, 1024, 50),  # the total is smaller: it caps a sample
        ({"max_tokens": 50}, 1024, 50),  # the deprecated alias alike
        ({"max_completion_tokens": 50}, 16, 16),  # the server's default is smaller
        ({}, 64, 64),  # no total asked: the server's default
        ({"reasoning_effort": "low"}, 4096, 1024),  # the effort table's total (low: cot, 1024)
    ],
)
def test_one_sample_is_capped_at_min_of_default_and_total(fields, default, cap):
    c, backend = client(["\\boxed{5}"], default_max_tokens=default)
    post(c, **fields)
    [(_, params)] = backend.calls
    assert params.max_tokens == cap


def test_the_policy_share_still_holds_each_choice():
    c, _ = client(policy=ServerPolicy(max_completion_tokens=60))
    body = post(c, n=2, max_completion_tokens=60, thinktime={"strategy": "cot"})
    assert body["usage"]["completion_tokens"] <= 60


SAMPLING = {"temperature": 0.3, "top_p": 0.5, "seed": 7, "stop": ["zzz", "qqq"]}


@pytest.mark.parametrize("strategy", ["plain", "cot", "direct", "self_consistency", "best_of_n"])
@pytest.mark.parametrize("stream", [False, True])
def test_sampling_fields_reach_the_engine(strategy, stream):
    c, backend = client(["\\boxed{5}"])
    response = c.post(CHAT, json={"model": f"{strategy}/qwen", "messages": USER,
                                  "stream": stream, **SAMPLING})  # fmt: skip
    assert response.status_code == 200, response.text
    params = backend.calls[0][1]  # the model's samples (verifier calls come after)
    assert (params.temperature, params.top_p, params.seed) == (0.3, 0.5, 7)
    assert params.stop == ("zzz", "qqq")


def test_a_single_stop_string_is_a_stop():
    c, backend = client(["two plus three STOP \\boxed{9}"])
    body = post(c, stop="STOP")
    assert backend.calls[0][1].stop == ("STOP",)
    assert "STOP" not in body["choices"][0]["message"]["content"]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("presence_penalty", 0.5),
        ("frequency_penalty", -1.0),
        ("repetition_penalty", 1.2),
        ("logit_bias", {"50256": -100}),
        ("logprobs", True),
        ("top_logprobs", 3),
        ("top_k", 40),
        ("min_p", 0.1),
        ("best_of", 3),
        # (tools, tool_choice and response_format are implemented: tests/serve/test_tools.py)
        ("functions", [{"name": "f"}]),
        ("function_call", {"name": "f"}),
        ("modalities", ["text", "audio"]),
        ("audio", {"voice": "alloy", "format": "wav"}),
        ("prediction", {"type": "content", "content": "x"}),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_unimplemented_fields_are_refused_by_name(name, value, stream):
    c, backend = client()
    response = c.post(CHAT, json={"model": "qwen", "messages": USER, "stream": stream,
                                  name: value})  # fmt: skip
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["param"] == name
    assert f"{name} is not supported by this server" in error["message"]
    assert backend.calls == []


def test_unimplemented_fields_at_their_default_and_harmless_fields_are_accepted():
    c, _ = client(["\\boxed{5}"])
    defaults = {
        "presence_penalty": 0, "frequency_penalty": 0.0, "logit_bias": {}, "logprobs": False,
        "top_logprobs": 0, "response_format": {"type": "text"}, "tools": [],
        "tool_choice": "none", "functions": [], "function_call": "auto",
        "parallel_tool_calls": True, "modalities": ["text"], "audio": None, "prediction": None,
    }  # fmt: skip
    harmless = {"user": "u-1", "metadata": {"team": "a"}, "store": False,
                "service_tier": "auto", "stream_options": {"include_usage": True}}  # fmt: skip
    assert post(c, **defaults, **harmless)["choices"][0]["message"]["content"] == "\\boxed{5}"


def test_streamed_n_over_one_is_refused_with_a_reason():
    c, _ = client()
    response = c.post(CHAT, json={"model": "qwen", "messages": USER, "stream": True, "n": 2})
    assert response.status_code == 400
    assert json.loads(response.text)["error"]["param"] == "n"


@pytest.mark.parametrize(
    ("fields", "said"),
    [
        ({"stop": ["a", "b", "c", "d", "e"]}, "at most 4"),
        ({"stop": 7}, "valid string"),
        ({"tool_choice": 5}, "tool_choice"),
        ({"messages": [{"role": "user"}]}, "needs content"),
    ],
)
def test_a_bad_value_of_a_union_field_names_the_field_not_its_type(fields, said):
    c, _ = client()
    response = c.post(CHAT, json={"model": "qwen", "messages": USER, **fields})
    assert response.status_code == 400
    error = response.json()["error"]
    param = "messages.0" if "messages" in fields else next(iter(fields))
    assert error["param"] == param and said in error["message"]


def test_seeded_choices_are_different_samples():
    backend = FakeBackend(["\\boxed{5}"])
    client = TestClient(
        create_app(backend, ServerConfig(model="qwen")), base_url="http://127.0.0.1"
    )
    body = {"model": "qwen", "messages": USER, "n": 3, "seed": 7, "temperature": 1.0}
    assert client.post("/v1/chat/completions", json=body).status_code == 200
    seeds = sorted(params.seed for _, params in backend.calls)
    assert len(set(seeds)) == 3 and seeds[0] == 7
