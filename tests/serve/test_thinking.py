"""The server speaks every reasoning dialect (issue 27): the official `openai` client against
`thinktime serve` on loopback (uvicorn in a thread) over a scripted model that thinks in
`<think>` tags.

What a client of a reasoning server relies on: the thinking under `reasoning_content`,
`reasoning` or both (`--reasoning-field`), in messages and stream deltas, streamed before the
answer and never inside it; earlier turns' thinking accepted under either name and not shown
to the model again; a per-request thinking cap under thinktime's and vLLM's names, refused
with a 400 where the engine cannot carry it; tool calls and JSON that still work when the
model thinks first.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import openai
import pytest
from pydantic import BaseModel
from typer.testing import CliRunner

from thinktime.backends.fake import FakeBackend, tokenize
from thinktime.backends.thinking import split_thinking
from thinktime.cli import app as cli
from thinktime.sampling import SamplingParams
from thinktime.serve.app import ServerConfig, create_app
from thinktime.serve.thinking import ThinkingSplitter
from thinktime.types import Completion, Request

MODEL = "thinker"
THOUGHT = "2+2 is 4, not \\boxed{5}."
ANSWER = "The answer is 4."
CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER = {"type": "function", "function": {"name": "get_weather", "parameters": CITY}}
# the model's reply to each question: thinking first, then the answer, a call or JSON
REPLIES = {
    "2+2?": f"<think>\n{THOUGHT}\n</think>\n\n{ANSWER}",
    "Weather in Paris?": "<think>I should call get_weather for Paris.</think>\n<tool_call>\n"
    '{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>',
    # the call written inside the thinking only, nothing after it (vLLM lost these)
    "Weather in Rome?": "<think>Calling it: <tool_call>\n"
    '{"name": "get_weather", "arguments": {"city": "Rome"}}\n</tool_call></think>',
    # a call mulled over while thinking, then an answer in words: no call
    "Weather in Oslo?": "<think>Maybe <tool_call>\n"
    '{"name": "get_weather", "arguments": {"city": "Oslo"}}\n</tool_call>? No need.</think>'
    "It is always cold in Oslo.",
    "Capital of Italy, as JSON?": '<think>Is it {"city": "Paris"}? No, that is France.</think>'
    '{"city": "Rome"}',
}


def script(request: Request, index: int) -> str:
    return REPLIES.get(request.messages[-1].content, f"<think>{THOUGHT}</think>{ANSWER}")


class ThinkingFake(FakeBackend):
    """A scripted reasoning model on an engine that splits its `<think>` off each reply (as the
    llama.cpp and OpenAI-compatible backends do) and streams the raw text, tags included (an
    engine that writes the thinking inside the content)."""

    def __init__(self) -> None:
        super().__init__(script, name="thinking-fake")

    def _complete(self, text: str, params: SamplingParams) -> Completion:
        completion = super()._complete(text, params)
        thinking, answer = split_thinking(completion.text)
        return replace(completion, text=answer, reasoning=thinking)


class CappingFake(ThinkingFake):
    """An engine that caps thinking (`ThinkingBudget`) and holds replies to a schema
    (`ConstrainsOutput`): its thinking ends after `max_thinking_tokens` tokens."""

    thinking_budget_field = "thinking_token_budget"
    constrains_output = True

    def _complete(self, text: str, params: SamplingParams) -> Completion:
        thinking, answer = split_thinking(text)
        cap = params.max_thinking_tokens
        if thinking is not None and cap is not None:
            text = f"<think>{''.join(tokenize(thinking)[:cap])}</think>{answer}"
        return super()._complete(text, params)


class UnstreamedThinking(ThinkingFake):
    """An engine that keeps the thinking apart (`reasoning_content`) and streams only the
    answer's text."""

    def generate_streamed(self, requests, params, cancel, on_delta):  # type: ignore[no-untyped-def]
        generations = self.generate(requests, params)
        for generation in generations:
            for index, completion in enumerate(generation.completions):
                for token in tokenize(completion.text):
                    on_delta(index, token)
        return generations


@contextlib.contextmanager
def serving(backend: FakeBackend, **config: Any) -> Iterator[openai.OpenAI]:
    """The official client of `thinktime serve` over `backend`, on a free loopback port."""
    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server_app = create_app(backend, ServerConfig(model=MODEL, **config))
    server = uvicorn.Server(
        uvicorn.Config(server_app, host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="none", max_retries=0)
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def backend() -> ThinkingFake:
    return CappingFake()


@pytest.fixture(scope="module")
def client(backend: ThinkingFake) -> Iterator[openai.OpenAI]:
    with serving(backend) as served:
        yield served


def ask(question: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": question}]


FIELDS = ("reasoning_content", "reasoning", "both")


def names(field: str) -> set[str]:
    return {"reasoning_content", "reasoning"} if field == "both" else {field}


# ------------------------------------------------------------ 1, 2: both names, streamed apart


@pytest.mark.parametrize("field", FIELDS)
def test_a_reply_carries_its_thinking_under_the_names_the_server_is_set_to(field):
    with serving(ThinkingFake(), reasoning_field=field) as client:
        reply = client.chat.completions.create(model=MODEL, messages=ask("2+2?"))
    message = reply.choices[0].message
    assert message.content == ANSWER  # no tag, no thinking in the answer
    extra = message.model_extra or {}
    for name in names(field):
        assert extra[name] == THOUGHT
    assert not ({"reasoning_content", "reasoning"} - names(field)) & extra.keys()
    assert reply.usage.completion_tokens == len(tokenize(REPLIES["2+2?"]))


def _stream(client: openai.OpenAI, **request: Any) -> list[Any]:
    stream = client.chat.completions.create(model=MODEL, stream=True, **request)
    return [chunk.choices[0].delta for chunk in stream if chunk.choices]


def _pieces(deltas: list[Any], name: str) -> list[tuple[int, str]]:
    found = [
        (i, (d.model_extra or {}).get(name) or getattr(d, name, None)) for i, d in enumerate(deltas)
    ]
    return [(i, text) for i, text in found if text]


@pytest.mark.parametrize("field", FIELDS)
def test_a_stream_sends_the_thinking_in_its_own_deltas_before_the_answer(field):
    with serving(ThinkingFake(), reasoning_field=field) as client:
        deltas = _stream(client, messages=ask("2+2?"))
    content = _pieces(deltas, "content")
    assert "".join(text for _, text in content) == ANSWER
    for name in ("reasoning_content", "reasoning"):
        thinking = _pieces(deltas, name)
        if name not in names(field):
            assert thinking == []
            continue
        assert len(thinking) > 1  # streamed as it came, piece by piece
        assert "".join(text for _, text in thinking) == THOUGHT
        assert max(i for i, _ in thinking) < min(i for i, _ in content)
    assert not any("think>" in text for _, text in content)


def test_thinking_an_engine_kept_apart_without_streaming_it_comes_before_the_finish():
    with serving(UnstreamedThinking()) as client:
        stream = client.chat.completions.create(model=MODEL, messages=ask("2+2?"), stream=True)
        chunks = [chunk for chunk in stream if chunk.choices]
    content = "".join(c.choices[0].delta.content or "" for c in chunks)
    thinking = [c for c in chunks if (c.choices[0].delta.model_extra or {}).get("reasoning")]
    assert content == ANSWER
    [late] = thinking
    assert late.choices[0].delta.model_extra["reasoning_content"] == THOUGHT
    assert chunks.index(late) == len(chunks) - 2  # just before the finish chunk


@pytest.mark.parametrize(
    "text",
    [REPLIES["2+2?"], f"<think>{THOUGHT}", "  <think>\n a </think>b  ", "plain 4", " </x", "<thi"],
)
def test_the_splitter_agrees_with_split_thinking_however_the_text_is_cut(text):
    """Every way of cutting the reply into three pieces streams what the whole reply splits to."""
    expected = split_thinking(text)
    for first in range(len(text) + 1):
        for second in range(first, len(text) + 1):
            splitter, out = ThinkingSplitter(), []
            for piece in (text[:first], text[first:second], text[second:]):
                out += splitter.feed(piece)
            out += splitter.finish()
            thinking = "".join(t for kind, t in out if kind == "thinking")
            answer = "".join(t for kind, t in out if kind == "content")
            assert (thinking or None, answer) == (expected[0] or None, expected[1]), (first, second)
            kinds = [kind for kind, _ in out]
            assert kinds == sorted(kinds, key=lambda kind: kind == "content")  # thinking first


# ------------------------------------------------------------ 3: earlier turns' thinking


@pytest.mark.parametrize(
    "earlier",
    [
        {"reasoning": "secret musing"},
        {"reasoning_content": "secret musing"},
        {"reasoning": "secret musing", "reasoning_content": "secret musing"},
        {"content": "<think>secret musing</think>\n\nIt is 4."},  # the raw reply sent back
        {"content": None, "reasoning": "secret musing"},  # cut off while thinking
    ],
)
def test_an_earlier_turns_thinking_is_accepted_and_not_shown_to_the_model(client, backend, earlier):
    turn = {"role": "assistant", "content": "It is 4.", **earlier}
    messages = [*ask("2+2?"), turn, *ask("And 3+3?")]
    reply = client.chat.completions.create(model=MODEL, messages=messages)
    assert reply.choices[0].message.content == ANSWER
    [request], _ = backend.calls[-1]
    shown = [(m.role, m.content) for m in request.messages]
    assert shown[1] == (
        "assistant",
        "" if "content" in earlier and not earlier["content"] else "It is 4.",
    )
    assert not any("secret" in text or "think>" in text for _, text in shown)


def test_thinking_on_a_user_message_is_refused(client):
    messages = [{"role": "user", "content": "2+2?", "reasoning": "hm"}]
    with pytest.raises(openai.BadRequestError, match="only assistant messages carry reasoning"):
        client.chat.completions.create(model=MODEL, messages=messages)


# ------------------------------------------------------------ 4: the thinking cap


@pytest.mark.parametrize("field", ["max_thinking_tokens", "thinking_token_budget"])
def test_either_cap_field_reaches_the_engine_and_binds(client, backend, field):
    reply = client.chat.completions.create(model=MODEL, messages=ask("2+2?"), extra_body={field: 3})
    _, params = backend.calls[-1]
    assert params.max_thinking_tokens == 3
    thinking = reply.choices[0].message.model_extra["reasoning"]
    assert thinking == "".join(tokenize(THOUGHT)[:3]).strip()
    assert reply.choices[0].message.content == ANSWER


def test_the_same_cap_under_both_names_is_one_cap(client, backend):
    both = {"max_thinking_tokens": 4, "thinking_token_budget": 4}
    client.chat.completions.create(model=MODEL, messages=ask("2+2?"), extra_body=both)
    assert backend.calls[-1][1].max_thinking_tokens == 4


def test_two_different_caps_are_a_400_naming_both(client):
    both = {"max_thinking_tokens": 4, "thinking_token_budget": 8}
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model=MODEL, messages=ask("2+2?"), extra_body=both)
    assert refused.value.status_code == 400
    message = refused.value.body["message"]
    assert "max_thinking_tokens (4)" in message and "thinking_token_budget (8)" in message


def test_the_servers_cap_holds_a_request_that_asks_for_more():
    backend = CappingFake()
    with serving(backend, max_thinking_tokens=2) as client:
        client.chat.completions.create(model=MODEL, messages=ask("2+2?"))
        assert backend.calls[-1][1].max_thinking_tokens == 2
        client.chat.completions.create(
            model=MODEL, messages=ask("2+2?"), extra_body={"max_thinking_tokens": 50}
        )
        assert backend.calls[-1][1].max_thinking_tokens == 2


@pytest.mark.parametrize("stream", [False, True])
def test_a_cap_the_engine_cannot_carry_is_a_400_before_anything_runs(stream):
    backend = ThinkingFake()  # no thinking budget field: it would think on
    with serving(backend) as client, pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(
            model=MODEL, messages=ask("2+2?"), stream=stream,
            extra_body={"thinking_token_budget": 16},
        )  # fmt: skip
    assert refused.value.status_code == 400
    assert refused.value.body["message"].startswith(
        "model 'thinking-fake' cannot cap thinking (max_thinking_tokens"
    )
    assert "\n" not in refused.value.body["message"] and backend.calls == []


def test_a_strategy_that_caps_thinking_itself_takes_the_cap_on_any_engine():
    with serving(FakeBackend(["so \\boxed{4}"])) as client:
        reply = client.chat.completions.create(
            model=MODEL, messages=ask("2+2?"),
            extra_body={"max_thinking_tokens": 16, "thinktime": {"strategy": "budget_forcing"}},
        )  # fmt: skip
    assert reply.model_extra["thinktime"]["strategy"] == "budget_forcing"


# ------------------------------------------------------------ 5: tools and JSON after thinking


@pytest.mark.parametrize("stream", [False, True])
def test_a_tool_call_after_thinking_is_the_call_and_the_thinking_its_reasoning(client, stream):
    request = {"messages": ask("Weather in Paris?"), "tools": [WEATHER]}
    if stream:
        deltas = _stream(client, **request)
        [thinking] = _pieces(deltas, "reasoning")
        [(at, calls)] = _pieces(deltas, "tool_calls")
        assert thinking[0] < at
        reasoning, [call] = thinking[1], calls
    else:
        reply = client.chat.completions.create(model=MODEL, **request)
        choice = reply.choices[0]
        assert choice.finish_reason == "tool_calls" and choice.message.content is None
        reasoning, [call] = choice.message.model_extra["reasoning"], choice.message.tool_calls
    assert reasoning == "I should call get_weather for Paris."
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "get_weather",
        {"city": "Paris"},
    )


def test_a_call_written_only_inside_the_thinking_is_not_lost(client):
    reply = client.chat.completions.create(
        model=MODEL, messages=ask("Weather in Rome?"), tools=[WEATHER]
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "tool_calls"
    [call] = choice.message.tool_calls
    assert json.loads(call.function.arguments) == {"city": "Rome"}
    assert "<tool_call>" in choice.message.model_extra["reasoning_content"]  # kept as written


def test_a_call_mulled_over_while_thinking_then_answered_in_words_is_no_call(client):
    reply = client.chat.completions.create(
        model=MODEL, messages=ask("Weather in Oslo?"), tools=[WEATHER]
    )
    choice = reply.choices[0]
    assert choice.finish_reason == "stop" and choice.message.tool_calls is None
    assert choice.message.content == "It is always cold in Oslo."


class City(BaseModel):
    city: str


def test_json_is_read_from_the_text_after_the_thinking(client):
    reply = client.chat.completions.parse(
        model=MODEL, messages=ask("Capital of Italy, as JSON?"), response_format=City
    )
    message = reply.choices[0].message
    assert message.parsed == City(city="Rome")  # the thinking's {"city": "Paris"} is not it
    assert "Paris" in message.model_extra["reasoning"]


def test_streamed_json_after_thinking_is_only_the_json(client):
    deltas = _stream(
        client,
        messages=ask("Capital of Italy, as JSON?"),
        response_format={"type": "json_object"},
    )
    assert json.loads("".join(text for _, text in _pieces(deltas, "content"))) == {"city": "Rome"}
    assert "Paris" in "".join(text for _, text in _pieces(deltas, "reasoning_content"))


# ------------------------------------------------------------ the CLI's --max-thinking-tokens

runner = CliRunner()


def _one_line(result: Any, message: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_solve_passes_the_cap_into_the_sampling(monkeypatch):
    seen: dict[str, Any] = {}

    def solve(question: str, **options: Any) -> Any:
        seen.update(options)
        raise SystemExit(0)

    monkeypatch.setattr("thinktime.api.solve", solve)
    runner.invoke(cli, ["solve", "2+2?", "-m", "fake", "--max-thinking-tokens", "64"])
    assert seen["sampling"].max_thinking_tokens == 64


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-thinking-tokens", "0"], "--max-thinking-tokens must be an integer >= 1"),
        (["--max-thinking-tokens", "8"], "model 'fake' cannot cap thinking"),
    ],
)
def test_solve_refuses_a_cap_in_one_line(args, message):
    _one_line(runner.invoke(cli, ["solve", "2+2?", "-m", "fake", *args]), message)


def _bench(tmp_path: Any, *args: str) -> list[str]:
    data = tmp_path / "qa.jsonl"
    data.write_text(json.dumps({"question": "2+2?", "answer": "4"}) + "\n")
    store = tmp_path / "runs.db"
    return ["bench", "--task", f"jsonl:{data}", "-m", "fake", "--store", str(store), *args]


def test_bench_runs_each_config_at_the_cap(tmp_path, monkeypatch):
    backend = CappingFake()
    monkeypatch.setattr("thinktime.backends.base.make_backend", lambda *a, **k: backend)
    result = runner.invoke(cli, _bench(tmp_path, "-s", "cot", "--max-thinking-tokens", "5",
                                       "--json"))  # fmt: skip
    assert result.exit_code == 0, result.output
    assert {row["config"] for row in json.loads(result.stdout)["results"]} == {
        "cot:max_thinking_tokens=5"
    }
    assert backend.calls and all(params.max_thinking_tokens == 5 for _, params in backend.calls)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--max-thinking-tokens", "0"], "--max-thinking-tokens must be an integer >= 1"),
        (["-s", "cot", "--max-thinking-tokens", "8"], "model 'fake' cannot cap thinking"),
        (["-s", "cot:max_thinking_tokens=3", "--max-thinking-tokens", "8"], "given twice"),
    ],
)
def test_bench_refuses_a_cap_in_one_line(tmp_path, args, message):
    _one_line(runner.invoke(cli, _bench(tmp_path, *args)), message)


def test_serve_refuses_a_cap_its_engine_cannot_carry():
    args = ["serve", "-m", "fake", "--port", "1", "--max-thinking-tokens", "8"]
    _one_line(runner.invoke(cli, args), "model 'fake' cannot cap thinking")


def test_serve_takes_only_the_known_reasoning_fields():
    result = runner.invoke(cli, ["serve", "-m", "fake", "--reasoning-field", "thoughts"])
    assert result.exit_code == 2 and "--reasoning-field" in result.stderr
