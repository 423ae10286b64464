"""Tool calling on the wire, on the scripted backend: request and reply shapes, streamed calls,
an agent's next turn, and every malformed request as a 400 in OpenAI's shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from thinktime.backends.fake import FakeBackend
from thinktime.backends.toolcalls import FUNCTION
from thinktime.serve.app import ServerConfig, create_app
from thinktime.serve.policy import ServerPolicy

CALL = '{"name": "calculator", "arguments": {"expression": "37*91"}}'
QUESTION = {"role": "user", "content": "What is 37*91?"}


class SchemaFake(FakeBackend):
    """The scripted backend, declared able to hold replies to a schema (its script obeys)."""

    constrains_output = True


def client(script: list[str], backend: type[FakeBackend] = FakeBackend, **policy: Any):
    config = ServerConfig(model="q", policy=ServerPolicy(**policy))
    return TestClient(create_app(backend(script), config), base_url="http://127.0.0.1")


def post(c: TestClient, **body: Any) -> Any:
    return c.post("/v1/chat/completions", json={"model": "q", **body})


def test_a_call_comes_back_as_tool_calls_with_null_content():
    reply = post(client([CALL]), messages=[QUESTION], tools=[FUNCTION])
    assert reply.status_code == 200
    choice = reply.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    [call] = choice["message"]["tool_calls"]
    assert call["type"] == "function" and call["id"].startswith("call_")
    assert call["function"] == {"name": "calculator", "arguments": '{"expression": "37*91"}'}
    assert reply.json()["usage"]["completion_tokens"] == 5  # the call's words, billed


def test_the_next_turn_of_an_agent_is_a_conversation():
    backend = FakeBackend(["It is 3367."])
    c = TestClient(create_app(backend, ServerConfig(model="q")), base_url="http://127.0.0.1")
    call = {"id": "call_1", "type": "function",
            "function": {"name": "calculator", "arguments": '{"expression": "37*91"}'}}  # fmt: skip
    messages = [QUESTION, {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "call_1", "content": "3367"}]  # fmt: skip
    reply = post(c, messages=messages, tools=[FUNCTION])
    assert reply.status_code == 200, reply.json()
    assert reply.json()["choices"][0]["message"]["content"] == "It is 3367."
    assert reply.json()["choices"][0]["finish_reason"] == "stop"
    # the engine got the whole conversation: the call and its result after the question
    [request] = backend.calls[0][0]
    assert [m.role for m in request.messages] == ["user", "assistant", "tool"]
    assert request.messages[1].tool_calls[0].id == "call_1"
    assert request.messages[2].tool_call_id == "call_1"


def test_tool_choice_none_reads_no_calls():
    reply = post(client([CALL]), messages=[QUESTION], tools=[FUNCTION], tool_choice="none")
    assert reply.json()["choices"][0]["message"]["content"] == CALL
    assert reply.json()["choices"][0]["finish_reason"] == "stop"


def test_a_text_that_calls_no_offered_tool_is_text():
    other = '{"name": "weather", "arguments": {}}'
    reply = post(client([other]), messages=[QUESTION], tools=[FUNCTION])
    assert reply.json()["choices"][0]["message"]["content"] == other
    assert "tool_calls" not in reply.json()["choices"][0]["message"]


def test_parallel_calls_and_parallel_tool_calls_false():
    two = CALL + "\n" + CALL.replace("37*91", "2+2")
    reply = post(client([two]), messages=[QUESTION], tools=[FUNCTION])
    assert len(reply.json()["choices"][0]["message"]["tool_calls"]) == 2
    reply = post(client([two]), messages=[QUESTION], tools=[FUNCTION], parallel_tool_calls=False)
    assert len(reply.json()["choices"][0]["message"]["tool_calls"]) == 1


def test_tagged_calls_as_qwen_writes_them():
    tagged = f"Let me compute.\n<tool_call>\n{CALL}\n</tool_call>"
    message = post(client([tagged]), messages=[QUESTION], tools=[FUNCTION]).json()["choices"][0]
    assert message["message"]["content"] == "Let me compute."
    assert message["message"]["tool_calls"][0]["function"]["name"] == "calculator"


def test_streamed_calls_are_deltas_an_openai_client_assembles():
    reply = post(client([CALL]), messages=[QUESTION], tools=[FUNCTION], stream=True)
    events = [json.loads(line[6:]) for line in reply.text.splitlines()
              if line.startswith("data: {")]  # fmt: skip
    deltas = [e["choices"][0] for e in events if e["choices"]]
    calls = [d["delta"]["tool_calls"] for d in deltas if "tool_calls" in d["delta"]]
    assert len(calls) == 1 and calls[0][0]["index"] == 0
    assert calls[0][0]["function"]["arguments"] == '{"expression": "37*91"}'
    assert deltas[-1]["finish_reason"] == "tool_calls"
    assert reply.text.rstrip().endswith("data: [DONE]")


def test_required_and_named_choices_need_a_backend_that_constrains():
    for choice in ("required", {"type": "function", "function": {"name": "calculator"}}):
        refused = post(client([CALL]), messages=[QUESTION], tools=[FUNCTION], tool_choice=choice)
        assert refused.status_code == 400 and refused.json()["error"]["param"] == "tool_choice"
        reply = post(client([CALL], SchemaFake), messages=[QUESTION], tools=[FUNCTION],
                     tool_choice=choice)  # fmt: skip
        assert reply.json()["choices"][0]["finish_reason"] == "tool_calls"


def test_response_format_is_refused_where_it_cannot_be_held_never_ignored():
    fmt = {"type": "json_schema", "json_schema": {"name": "p", "schema": {"type": "object"}}}
    refused = post(client(["{}"]), messages=[QUESTION], response_format=fmt)
    assert refused.status_code == 400
    assert refused.json()["error"]["param"] == "response_format"
    backend = SchemaFake(['{"a": 1}'])
    local = TestClient(create_app(backend, ServerConfig(model="q")), base_url="http://127.0.0.1")
    reply = post(local, messages=[QUESTION], response_format=fmt)
    assert reply.status_code == 200
    assert backend.calls[0][0][0].reply_format.response_format == fmt  # passed to the engine
    text = post(client(["hi"]), messages=[QUESTION], response_format={"type": "text"})
    assert text.status_code == 200


BAD_TOOL = {"type": "function", "function": {"name": "f",
            "parameters": {"type": "object", "properties": {"a": {"type": "wrong"}}}}}  # fmt: skip


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"tools": [BAD_TOOL]}, "tools.0.function.parameters"),
        ({"tools": [{"type": "function", "function": {"name": "bad name!"}}]},
         "tools.0.function.name"),
        ({"tools": [{"type": "function", "function": {"name": "f",
                     "parameters": {"type": "string"}}}]}, "tools.0.function.parameters"),
        ({"tools": [FUNCTION, FUNCTION]}, None),
        ({"tools": [FUNCTION], "tool_choice": {"type": "function", "function": {"name": "g"}}},
         None),
        ({"tool_choice": "required"}, None),
        ({"tools": [FUNCTION], "tool_choice": "sometimes"}, "tool_choice"),
        ({"tools": "calculator"}, "tools"),
        ({"response_format": {"type": "json_schema"}}, "response_format"),
        ({"response_format": {"type": "json_schema",
                              "json_schema": {"name": "x", "schema": {"type": 5}}}},
         "response_format.json_schema.schema"),
        ({"response_format": {"type": "yaml"}}, "response_format.type"),
        ({"response_format": {"type": "json_schema",
                              "json_schema": {"name": "x", "schema": {"$schema": [1]}}}},
         "response_format.json_schema.schema"),
        ({"messages": [QUESTION, {"role": "tool", "tool_call_id": "nope", "content": "1"}]},
         "messages"),
        ({"messages": [QUESTION, {"role": "tool", "content": "1"}]}, "messages.1"),
        ({"messages": [QUESTION, {"role": "assistant", "content": None}]}, "messages.1"),
        ({"messages": [{"role": "user", "content": None}]}, "messages.0"),
        ({"messages": [QUESTION, {"role": "assistant", "content": None,
                                  "tool_calls": [{"id": "c", "function": {"name": "f"}}]}]},
         "messages.1.tool_calls.0.function.arguments"),
        ({"messages": [{"role": "user", "content": "hi", "tool_calls": []}]}, None),
        ({"messages": [QUESTION, {"role": "assistant", "content": "ok"}]}, "messages"),
    ],
)  # fmt: skip
def test_malformed_tool_requests_are_400s_in_openai_shape(body, param):
    reply = post(client([CALL]), **{"messages": [QUESTION], **body})
    assert reply.status_code == 400, reply.json()
    error = reply.json()["error"]
    assert error["type"] == "invalid_request_error" and error["message"]
    if param is not None:
        assert error["param"] == param


def test_a_strategy_that_writes_its_own_prompt_refuses_tools():
    reply = post(client([CALL]), messages=[QUESTION], tools=[FUNCTION],
                 thinktime={"strategy": "self_consistency"})  # fmt: skip
    assert reply.status_code == 400
    assert "tool_vote" in reply.json()["error"]["message"]


def test_the_policy_limits_tools():
    reply = post(client([CALL], tools=False), messages=[QUESTION], tools=[FUNCTION])
    assert reply.status_code == 403 and reply.json()["error"]["param"] == "tools"
    reply = post(client([CALL], max_tools=1), messages=[QUESTION], tools=[FUNCTION,
                 {"type": "function", "function": {"name": "other"}}])  # fmt: skip
    assert reply.status_code == 403


def test_functions_the_deprecated_field_is_still_refused():
    reply = post(client([CALL]), messages=[QUESTION], functions=[FUNCTION["function"]])
    assert reply.status_code == 400 and reply.json()["error"]["param"] == "functions"


def test_tool_vote_over_the_wire_bills_every_candidate():
    script = [CALL, CALL.replace("37*91", "37+91"), CALL.replace('"37*91"', '"37*91" ')]
    reply = post(client(script), model="tool_vote/q", messages=[QUESTION], tools=[FUNCTION])
    body = reply.json()
    assert body["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"] == (
        '{"expression": "37*91"}'
    )
    assert body["thinktime"]["bill"]["samples"] == 4
    assert body["usage"]["completion_tokens"] == body["thinktime"]["bill"]["completion_tokens"]
