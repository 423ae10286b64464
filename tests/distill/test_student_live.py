"""The distilled thinking student (`qwen2.5-coder-0.5b-think`: the embedded 0.5B + the LoRA
adapter shipped in the package) end to end: every reasoning dialect through the official
`openai` client against a live `thinktime serve`, a thinking cap that binds, a tool call after
thinking, and `thinktime solve` printing the thinking apart from the answer."""

from __future__ import annotations

import socket
import threading
import time

import openai
import pytest
from typer.testing import CliRunner

pytestmark = pytest.mark.integration
STUDENT = "qwen2.5-coder-0.5b-think"
SUM = "State the final answer to the following arithmetic problem: 45 + 38 - 21 ="


@pytest.fixture(scope="module")
def student():
    from thinktime.backends.llamacpp import LlamaCppBackend

    return LlamaCppBackend.from_reference(STUDENT, n_parallel=2)


@pytest.fixture(scope="module")
def client(student):
    import uvicorn

    from thinktime.serve.app import ServerConfig, create_app

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    app = create_app(student, ServerConfig(model=STUDENT, default_max_tokens=256))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="unused")
    server.should_exit = True
    thread.join(timeout=10)


def test_the_student_is_a_thinking_model(student):
    from thinktime.backends.base import caps_thinking

    assert caps_thinking(student)  # a known thinking model: its engine caps thinking


def test_both_field_names_not_streamed(client):
    reply = client.chat.completions.create(
        model=STUDENT, messages=[{"role": "user", "content": SUM}], temperature=0, max_tokens=200
    )
    message = reply.choices[0].message
    thinking = message.model_extra["reasoning_content"]
    assert thinking and thinking == message.model_extra["reasoning"]
    assert "<think>" not in (message.content or "") and "</think>" not in (message.content or "")
    assert "62" in (message.content or "")
    assert reply.usage.completion_tokens_details.reasoning_tokens > 0


def test_thinking_streams_apart_before_the_answer(client):
    stream = client.chat.completions.create(
        model=STUDENT, messages=[{"role": "user", "content": SUM}], temperature=0,
        max_tokens=200, stream=True,
    )  # fmt: skip
    kinds: list[str] = []
    thinking = answer = ""
    for chunk in stream:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        extra = delta.model_extra or {}
        if extra.get("reasoning_content") or extra.get("reasoning"):
            assert extra.get("reasoning_content") == extra.get("reasoning")
            thinking += extra["reasoning_content"]
            kinds.append("thinking")
        if delta.content:
            answer += delta.content
            kinds.append("content")
    assert kinds.count("thinking") > 3 and "content" in kinds
    assert "content" not in kinds[: kinds.index("content")]
    assert all(k == "content" for k in kinds[kinds.index("content") :])  # thinking came first
    assert "<think>" not in answer and "62" in answer and thinking.strip()


@pytest.mark.parametrize("field", ["max_thinking_tokens", "thinking_token_budget"])
def test_a_thinking_cap_binds_within_a_few_tokens(client, field):
    free = client.chat.completions.create(
        model=STUDENT, messages=[{"role": "user", "content": SUM}], temperature=0, max_tokens=200
    )
    capped = client.chat.completions.create(
        model=STUDENT, messages=[{"role": "user", "content": SUM}], temperature=0,
        max_tokens=200, extra_body={field: 12},
    )  # fmt: skip
    free_thinking = free.usage.completion_tokens_details.reasoning_tokens
    capped_thinking = capped.usage.completion_tokens_details.reasoning_tokens
    assert free_thinking > 24  # it thinks longer than the cap when free
    # the cap, plus the tags around the thinking (the open tag, the forced `\n</think>\n\n`)
    assert capped_thinking <= 12 + 8
    assert capped.choices[0].message.content  # and it still answers after the cap


def test_a_tool_call_after_thinking(client):
    calculator = {
        "type": "function",
        "function": {
            "name": "calculator",
            "description": "Evaluate an arithmetic expression and return the number.",
            "parameters": {
                "type": "object",
                "properties": {"expression": {"type": "string"}},
                "required": ["expression"],
            },
        },
    }
    reply = client.chat.completions.create(
        model=STUDENT, messages=[{"role": "user", "content": "What is 37*91? Use the calculator."}],
        tools=[calculator], tool_choice="required", temperature=0, max_tokens=200,
    )  # fmt: skip
    [call] = reply.choices[0].message.tool_calls
    assert call.function.name == "calculator"
    assert "37" in call.function.arguments and "91" in call.function.arguments


def test_solve_prints_the_thinking_apart_from_the_answer():
    from thinktime.cli import app

    result = CliRunner().invoke(app, ["solve", SUM, "-m", STUDENT, "--temperature", "0"])
    assert result.exit_code == 0, result.output
    assert "thinking" in result.output  # the thinking's own panel
    assert "answer: 62" in result.output
