"""Tool calls and structured output with the official openai client against a live
`thinktime serve` on the real embedded 0.5B model."""

from __future__ import annotations

import json

import jsonschema
import openai
import pytest

pytestmark = pytest.mark.integration
MODEL = "qwen2.5-coder-0.5b"
CALCULATOR = {
    "type": "function",
    "function": {
        "name": "calculator",
        "description": "Evaluate an arithmetic expression and return the number.",
        "parameters": {
            "type": "object",
            "properties": {"expression": {"type": "string", "description": "e.g. 37*91"}},
            "required": ["expression"],
        },
    },
}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
QUESTION = {"role": "user", "content": "What is 37*91? Use the calculator tool."}


@pytest.fixture(scope="module")
def client(serve_url):
    return openai.OpenAI(base_url=serve_url, api_key="unused")


def test_two_turns_call_then_result_then_final_answer(client):
    first = client.chat.completions.create(
        model=MODEL, messages=[QUESTION], tools=[CALCULATOR], temperature=0, max_tokens=64
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert call.function.name == "calculator"
    assert json.loads(call.function.arguments)["expression"].replace(" ", "") == "37*91"
    assert first.usage.completion_tokens > 0
    # the agent runs the tool and sends the result back; the final answer is asked for as
    # JSON (the 0.5B model, left free after a tool result, calls the tool again on it)
    answer = {"type": "object", "properties": {"answer": {"type": "number"}},
              "required": ["answer"]}  # fmt: skip
    second = client.chat.completions.create(
        model=MODEL,
        messages=[
            QUESTION,
            choice.message.model_dump(exclude_none=True),  # content null, tool_calls
            {"role": "tool", "tool_call_id": call.id, "content": "3367"},
        ],
        tools=[CALCULATOR],
        tool_choice="none",
        response_format={"type": "json_schema",
                         "json_schema": {"name": "final", "schema": answer}},
        temperature=0,
        max_tokens=64,
    )  # fmt: skip
    assert second.choices[0].finish_reason == "stop"
    assert not second.choices[0].message.tool_calls
    assert json.loads(second.choices[0].message.content)["answer"] == 3367


def test_tool_choice_required_makes_a_call(client):
    reply = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Hi there!"}], tools=[CALCULATOR],
        tool_choice="required", temperature=0, max_tokens=64,
    )  # fmt: skip
    assert reply.choices[0].finish_reason == "tool_calls"
    call = reply.choices[0].message.tool_calls[0]
    assert call.function.name == "calculator"
    assert "expression" in json.loads(call.function.arguments)


def test_a_named_function_is_the_one_called(client):
    reply = client.chat.completions.create(
        model=MODEL, messages=[QUESTION], tools=[CALCULATOR, WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        temperature=0, max_tokens=64,
    )  # fmt: skip
    [call] = reply.choices[0].message.tool_calls
    assert call.function.name == "get_weather"
    assert isinstance(json.loads(call.function.arguments)["city"], str)


def test_streamed_tool_calls_assemble_into_the_call(client):
    stream = client.chat.completions.create(
        model=MODEL, messages=[QUESTION], tools=[CALCULATOR], temperature=0, max_tokens=64,
        stream=True, stream_options={"include_usage": True},
    )  # fmt: skip
    calls: dict[int, dict[str, str]] = {}
    finish, usage = None, None
    for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for piece in choice.delta.tool_calls or ():
                call = calls.setdefault(piece.index, {"name": "", "arguments": "", "id": ""})
                call["id"] = piece.id or call["id"]
                call["name"] += piece.function.name or ""
                call["arguments"] += piece.function.arguments or ""
    assert finish == "tool_calls"
    assert calls[0]["name"] == "calculator" and calls[0]["id"]
    assert "37" in json.loads(calls[0]["arguments"])["expression"]
    assert usage is not None and usage.completion_tokens > 0


def test_response_format_json_schema_output_validates(client):
    schema = {
        "type": "object",
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
        "additionalProperties": False,
    }
    reply = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Describe a person called Ann who is 30."}],
        response_format={"type": "json_schema",
                         "json_schema": {"name": "person", "schema": schema}},
        temperature=0, max_tokens=64,
    )  # fmt: skip
    data = json.loads(reply.choices[0].message.content)
    jsonschema.validate(data, schema)
    assert data["age"] == 30


def test_json_object_is_json(client):
    reply = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Give 3 colours as JSON."}],
        response_format={"type": "json_object"}, temperature=0, max_tokens=64,
    )  # fmt: skip
    assert isinstance(json.loads(reply.choices[0].message.content), dict)


def test_bad_tool_definitions_are_400s_in_openai_shape(client):
    bad = {"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"x": {"type": "nonsense"}}}}}  # fmt: skip
    with pytest.raises(openai.BadRequestError) as error:
        client.chat.completions.create(model=MODEL, messages=[QUESTION], tools=[bad])
    assert error.value.body["param"] == "tools.0.function.parameters"
    with pytest.raises(openai.BadRequestError) as error:
        client.chat.completions.create(
            model=MODEL, tools=[CALCULATOR],
            messages=[QUESTION, {"role": "tool", "tool_call_id": "call_x", "content": "1"}],
        )  # fmt: skip
    assert "call_x" in error.value.body["message"]


def test_tool_vote_over_the_wire(client):
    reply = client.chat.completions.create(
        model=f"tool_vote/{MODEL}", messages=[QUESTION], tools=[CALCULATOR], max_tokens=64,
        seed=1, extra_body={"thinktime": {"params": {"n": 4, "first": 2}}},
    )  # fmt: skip
    extra = reply.model_extra["thinktime"]
    assert extra["strategy"] == "tool_vote"
    assert extra["bill"]["samples"] in (2, 4)
    assert sum(extra["votes"].values()) <= extra["bill"]["samples"]
    assert reply.usage.completion_tokens == extra["bill"]["completion_tokens"]
