"""Backends: capability protocols, typed options per backend, hints, the OpenAI wire codec."""

from __future__ import annotations

import inspect

import pytest

from thinktime.backends.base import (
    BACKENDS,
    BackendSpec,
    ChatTemplating,
    EngineMetrics,
    Tokenizing,
    make_backend,
)
from thinktime.backends.fake import FakeBackend
from thinktime.backends.llamacpp import LlamaCppBackend, LlamaCppOptions
from thinktime.backends.openai_compat import OpenAIBackend, OpenAIOptions
from thinktime.backends.wire import delta_text, parse_choice, prompt_usage, request_body
from thinktime.errors import ThinktimeError
from thinktime.sampling import SamplingParams
from thinktime.types import Message, Request


def test_capabilities_are_protocols_checked_with_isinstance():
    engine = object.__new__(LlamaCppBackend)  # the methods are what counts, not a loaded model
    for capability in (ChatTemplating, Tokenizing, EngineMetrics):
        assert isinstance(engine, capability), capability
    fake = FakeBackend()
    assert isinstance(fake, ChatTemplating)
    assert not isinstance(fake, EngineMetrics) and not isinstance(fake, Tokenizing)
    hosted = object.__new__(OpenAIBackend)
    for capability in (ChatTemplating, Tokenizing, EngineMetrics):
        assert not isinstance(hosted, capability), capability
    # text reaches a client only through the ledger (`generate_streamed`, billed): no backend
    # keeps a second, unbilled `stream` path
    for backend in (LlamaCppBackend, FakeBackend, OpenAIBackend):
        assert not hasattr(backend, "stream"), backend


def test_a_backend_without_a_chat_template_is_a_clear_error():
    from thinktime.compute.ledger import Ledger
    from thinktime.strategies.base import Context

    class Plain:  # a backend with no optional capability at all
        name, card = "plain", None

        def generate(self, requests, params):
            return FakeBackend().generate(requests, params)

    context = Context(Ledger(Plain()), SamplingParams())
    with pytest.raises(ThinktimeError, match="cannot render its chat template"):
        context.chat_prompt((Message("user", "2+2?"),))
    assert (
        Context(Ledger(FakeBackend()), SamplingParams())
        .chat_prompt((Message("user", "2+2?"),))
        .endswith("assistant: ")
    )


URL = "http://test/v1"  # an OpenAI-compatible server, never reached
TAKES_NO = "backend {!r} takes no option {!r} (its options: {})"
OPENAI_TAKES = (
    "base_url, api_key, max_concurrency, max_retries, timeout, use_n, card, http_client, think_tags"
    ", thinking_budget_field"
)


@pytest.mark.parametrize(
    ("spec", "options", "message"),
    [
        ("fake", {"n_parallel": 16}, TAKES_NO.format("fake", "n_parallel", "none")),
        ("openai:m", {"n_parallel": 16}, TAKES_NO.format("openai", "n_parallel", OPENAI_TAKES)),
        ("openai:m", {"timeout": "soon"}, "bad option for backend 'openai': timeout: "),
        ("openai:m", {"max_concurrency": 0}, "bad option for backend 'openai': max_concurrency: "),
        (
            "llamacpp:m.gguf",
            {"timeout": 5},
            TAKES_NO.format(
                "llamacpp",
                "timeout",
                "n_parallel, context_per_sequence, n_threads, kv_unified, flash_attention, "
                "think_tags, lora, lora_scale, thinks, draft, draft_max, draft_min",
            ),
        ),
    ],
)
def test_an_option_the_backend_does_not_take_is_one_line(spec, options, message):
    with pytest.raises(ThinktimeError) as error:
        make_backend(spec, **options)
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_hints_reach_only_the_backends_that_declare_them():
    assert BACKENDS["llamacpp"].accepted({"n_parallel": 16, "timeout": 5}) == {"n_parallel": 16}
    assert BACKENDS["openai"].accepted({"n_parallel": 16, "timeout": 5}) == {"timeout": 5}
    assert BACKENDS["fake"].accepted({"n_parallel": 16}) == {}
    # a hint the backend does not take is dropped; the same option passed plainly is refused
    assert isinstance(make_backend("fake", hints={"n_parallel": 16}), FakeBackend)
    hosted = make_backend("openai:m", hints={"n_parallel": 16, "max_concurrency": 3}, base_url=URL)
    assert isinstance(hosted, OpenAIBackend) and hosted._pool._max_workers == 3
    # an explicit option wins over a hint
    hosted = make_backend("openai:m", hints={"max_concurrency": 3}, max_concurrency=5, base_url=URL)
    assert hosted._pool._max_workers == 5


def test_the_caller_owns_its_engine_and_a_sweep_loads_each_model_once(monkeypatch, tmp_path):
    """No process-wide cache holds engines (issue 23, item 4): `make_backend` builds a new one
    each time, and the edges that reuse one hold it themselves: `thinktime bench` builds one
    engine per model and shares it across every config of the sweep."""
    from typer.testing import CliRunner

    from thinktime.backends.options import NoOptions
    from thinktime.cli import app

    assert make_backend("fake") is not make_backend("fake")
    built: list[str] = []
    spec = BackendSpec("counted", lambda model, options: built.append(model) or FakeBackend(),
                       NoOptions)  # fmt: skip
    monkeypatch.setitem(BACKENDS, "counted", spec)
    data = tmp_path / "qa.jsonl"
    data.write_text('{"question": "q?", "answer": "42"}\n{"question": "r?", "answer": "7"}\n')
    bench = ["bench", "--task", f"jsonl:{data}", "--store", str(tmp_path / "qa.db"), "--json"]
    models = ["-m", "counted:a", "-m", "counted:b", "-m", "counted:a"]
    configs = ["-s", "cot", "-s", "self_consistency:n=2", "-s", "direct"]
    result = CliRunner().invoke(app, [*bench, *models, *configs])
    assert result.exit_code == 0, result.output
    assert built == ["a", "b"]  # 2 models × 3 configs × 2 questions: two engines


@pytest.mark.parametrize(
    ("options_type", "constructor"),
    [(LlamaCppOptions, LlamaCppBackend.__init__), (OpenAIOptions, OpenAIBackend.__init__)],
)
def test_options_defaults_are_the_backends_own(options_type, constructor):
    """The factory passes every option, so the model's defaults must be the constructor's."""
    parameters = inspect.signature(constructor).parameters
    for name, field in options_type.model_fields.items():
        assert parameters[name].default == field.default, name


def test_wire_codec_round_trip():
    params = SamplingParams(max_tokens=9, top_logprobs=2, stop=("}",), ignore_eos=True)
    chat = request_body(Request(messages=(Message("user", "q"),)), params, 3, 11)
    assert chat["n"] == 3 and chat["seed"] == 11 and chat["logprobs"] is True
    assert chat["top_logprobs"] == 2 and chat["stop"] == ["}"] and chat["ignore_eos"] is True
    assert "prompt" not in chat and chat["messages"] == [{"role": "user", "content": "q"}]
    raw = request_body(Request(prompt="2+3="), SamplingParams(), 1, None)
    assert raw["prompt"] == "2+3=" and "messages" not in raw and "seed" not in raw
    assert raw["logprobs"] is False and "top_logprobs" not in raw
    # chat logprobs count the choice's tokens; the legacy completions shape too; none: -1
    chat_choice = {
        "message": {"content": "so 5"},
        "finish_reason": "length",
        "logprobs": {"content": [
            {"token": "so", "logprob": -0.2, "top_logprobs": [{"token": "so", "logprob": -0.2}]},
            {"token": " 5", "logprob": -0.1},
        ]},
    }  # fmt: skip
    completion = parse_choice(chat_choice)
    assert (completion.text, completion.finish_reason, completion.completion_tokens) == (
        "so 5", "length", 2
    )  # fmt: skip
    assert completion.tokens == ("so", " 5") and completion.logprobs[0].top == (("so", -0.2),)
    legacy = parse_choice({"text": "5", "logprobs": {"tokens": ["5"]}, "finish_reason": None})
    assert (legacy.completion_tokens, legacy.finish_reason) == (1, "stop")
    assert parse_choice({"text": None}).completion_tokens == -1
    assert delta_text({"delta": {"content": None}, "text": "x"}) == "x"
    assert prompt_usage({"prompt_tokens": None}) == (0, 0)


def test_both_engines_use_the_one_codec():
    import thinktime.backends.llamacpp as llamacpp
    import thinktime.backends.openai_compat as openai_compat
    import thinktime.backends.wire as wire

    for module in (llamacpp, openai_compat):
        assert module.request_body is wire.request_body
        assert module.parse_choice is wire.parse_choice
    assert len(inspect.getsource(llamacpp).splitlines()) < 300


def test_a_stream_stopped_before_its_end_keeps_the_prompt_counts_the_engine_streamed():
    """llama.cpp sends a stream's usage in its last chunk only; asked (STREAM_COUNTS), it
    streams the prompt's counts as the call starts, so a call stopped at its first token
    (by its watch) still reports the prompt it prefilled and what came from its cache."""
    import threading

    from thinktime.backends.llamacpp_stream import streamed
    from thinktime.backends.wire import STREAM_COUNTS

    sent = []

    def engine(body, callback):  # stops when the callback says so, as the engine does
        sent.append(body)
        token = {"token": "4", "logprob": -0.1, "top_logprobs": [{"token": "4", "logprob": -0.1}]}
        chunks = [
            {"choices": [{"index": 0, "delta": {"role": "assistant"}}],
             "prompt_progress": {"total": 38, "cache": 27, "processed": 38}},
            {"choices": [{"index": 0, "delta": {"content": "4"}, "logprobs": {"content": [token]}}],
             "timings": {"cache_n": 27, "prompt_n": 11, "predicted_n": 1}},
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]},
            {"choices": [], "usage": {"prompt_tokens": 38, "completion_tokens": 2}},
        ]  # fmt: skip
        for chunk in chunks:
            if callback(chunk):
                return

    cut = streamed(engine, {"n": 1, "logprobs": True}, threading.Event(), watch=lambda i, t: True)
    assert all(sent[0][field] == value for field, value in STREAM_COUNTS.items())
    assert cut["choices"][0]["finish_reason"] == "cut"
    assert prompt_usage(cut["usage"]) == (38, 27)
    whole = streamed(engine, {"n": 1}, threading.Event())
    assert prompt_usage(whole["usage"]) == (38, 0)  # the final usage, where it came


def test_a_failing_listener_stops_the_engine_call_and_is_raised():
    import threading

    from thinktime.backends.llamacpp_stream import streamed

    asked: list[bool] = []

    def engine(body, callback):
        for piece in ("a", "b", "c"):
            asked.append(callback({"choices": [{"index": 0, "delta": {"content": piece}}]}))
            if asked[-1]:
                return

    def listener(index: int, piece: str) -> None:
        raise RuntimeError("the client's queue is gone")

    with pytest.raises(RuntimeError, match="queue is gone"):
        streamed(engine, {"n": 1}, threading.Event(), listener)
    assert asked == [True]  # the engine was told to stop at the first piece


def test_a_watched_draw_charges_every_call_its_prompt():
    from thinktime.backends.wire import stream_prompt_usage, watched_generation
    from thinktime.types import Completion

    cut = Completion("4", "cut", 1)
    assert watched_generation([(38, 37)] * 3, [cut] * 3).prompt_tokens == 3 * 38
    assert watched_generation([(38, 37)] * 3, [cut] * 3).cached_prompt_tokens == 3 * 37
    # a server that reported nothing for a stopped call: a sibling's length, else the known one
    assert watched_generation([(38, 0), None], [cut] * 2).prompt_tokens == 76
    assert watched_generation([None] * 4, [cut] * 4, known_length=38).prompt_tokens == 4 * 38
    assert watched_generation([(0, 0)], [Completion("", "cancelled", 0)]).prompt_tokens == 0
    assert stream_prompt_usage({"usage": {"prompt_tokens": 9}, "timings": {"prompt_n": 1}}) == (
        9, 0
    )  # fmt: skip


class _Plain:
    """A backend with no optional capability: it only generates (like a bare plugin engine)."""

    def __init__(self) -> None:
        self.name, self.card, self._fake = "plain", None, FakeBackend(["so \\boxed{5}"])

    def generate(self, requests, params):
        return self._fake.generate(requests, params)


class _Metered(FakeBackend):
    """The fake, plus engine counters and a record of streamed requests."""

    streamed: int = 0

    def engine_stats(self) -> dict[str, float]:
        return {"requests_processing": 2.0}

    def generate_streamed(self, requests, params, cancel, on_delta):
        self.streamed += 1
        return super().generate_streamed(requests, params, cancel, on_delta)


def test_the_server_asks_for_capabilities_with_isinstance():
    from fastapi.testclient import TestClient

    from thinktime.serve.app import ServerConfig, create_app

    chat = {"model": "cot/qwen", "messages": [{"role": "user", "content": "2+3?"}], "stream": True}
    metered = _Metered(["so \\boxed{5}"])
    for backend, engine_line in ((metered, True), (_Plain(), False)):
        client = TestClient(
            create_app(backend, ServerConfig(model="qwen")), base_url="http://127.0.0.1"
        )
        text = client.get("/metrics").text
        assert ("thinktime_engine_requests_processing 2.0" in text) is engine_line
        reply = client.post("/v1/chat/completions", json=chat)
        assert reply.status_code == 200 and "[DONE]" in reply.text
        assert '"answer": "5"' in reply.text or '"answer":"5"' in reply.text
    assert metered.streamed == 1  # tokens streamed only from the backend that can
