"""A thinking budget (`max_thinking_tokens`) on servers that take one, and where none does.

A scripted server (httpx2.MockTransport) answers like a reasoning model and records each request
body, so the test sees the cap reach the server in its dialect (vLLM's `thinking_token_budget`,
SGLang's `chat_template_kwargs.thinking_budget`); `budget_forcing` hands its cap to such a server
in one call, and forces the thinking itself (the s1 loop) on a backend that declares none.
"""

import json

import httpx2
import pytest

from thinktime import solve
from thinktime.backends.base import caps_thinking
from thinktime.backends.fake import FakeBackend
from thinktime.backends.openai_compat import OpenAIBackend
from thinktime.errors import ThinktimeError
from thinktime.sampling import SamplingParams

FIELDS = {
    "thinking_token_budget": lambda body: body.get("thinking_token_budget"),
    "chat_template_kwargs.thinking_budget": lambda body: (
        body.get("chat_template_kwargs") or {}
    ).get("thinking_budget"),
}


def thinking_server(seen: list):
    """Answers one choice, thinking in `reasoning_content`, and records each request body."""

    def handler(request):
        seen.append(json.loads(request.content))
        choice = {
            "index": 0,
            "finish_reason": "stop",
            "logprobs": None,
            "message": {
                "role": "assistant",
                "reasoning_content": "2+2 is 4",
                "content": "\\boxed{4}",
            },
        }
        usage = {
            "prompt_tokens": 7,
            "completion_tokens": 12,
            "completion_tokens_details": {"reasoning_tokens": 9},
        }
        return httpx2.Response(
            200, json={"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                       "choices": [choice], "usage": usage},
        )  # fmt: skip

    return handler


def backend(seen: list, field: str | None) -> OpenAIBackend:
    client = httpx2.Client(transport=httpx2.MockTransport(thinking_server(seen)))
    return OpenAIBackend(
        "m", base_url="http://test/v1", http_client=client, thinking_budget_field=field
    )


@pytest.mark.parametrize("field", FIELDS)
def test_the_cap_reaches_the_server_in_its_dialect(field):
    seen: list = []
    result = solve("2+2?", backend=backend(seen, field), strategy="cot", max_thinking_tokens=64)
    assert result.answer == "4"
    [body] = seen
    assert FIELDS[field](body) == 64
    assert "max_thinking_tokens" not in body


@pytest.mark.parametrize("field", FIELDS)
def test_no_cap_sends_no_field(field):
    seen: list = []
    solve("2+2?", backend=backend(seen, field), strategy="cot")
    [body] = seen
    assert FIELDS[field](body) is None


def test_a_cap_no_backend_field_carries_is_refused_not_dropped():
    seen: list = []
    assert not caps_thinking(backend(seen, None)) and caps_thinking(backend(seen, "x"))
    with pytest.raises(ThinktimeError, match="cannot cap thinking"):
        solve("2+2?", backend=backend(seen, None), strategy="cot", max_thinking_tokens=64)
    with pytest.raises(ThinktimeError, match="cannot cap thinking"):
        solve("2+2?", backend=FakeBackend(["4"]), strategy="cot", max_thinking_tokens=64)
    assert seen == []  # refused before any request went out


@pytest.mark.parametrize("field", FIELDS)
def test_budget_forcing_hands_its_cap_to_a_server_that_takes_one(field):
    seen: list = []
    result = solve(
        "2+2?", backend=backend(seen, field), strategy="budget_forcing",
        max_thinking_tokens=128, sampling=SamplingParams(max_tokens=200),
    )  # fmt: skip
    [body] = seen  # one chat call: no raw continuation, no Wait loop, no forced answer
    assert FIELDS[field](body) == 128 and "messages" in body
    assert body["max_tokens"] == 128 + 200  # the thinking, then the caller's reply
    assert result.answer == "4"
    assert result.details["server_budget"] is True and result.details["waits"] == 0
    assert result.details["thinking_tokens"] == 9 and result.details["cut"] is False
    assert result.bill.completion_tokens == 12


def test_budget_forcing_forces_at_the_delimiter_without_a_server_budget():
    fake = FakeBackend(["36 - 10 = 24", "Wait, 36 - 10 = 26", "26}"])
    result = solve(
        "apples?", backend=fake, strategy="budget_forcing", min_thinking_tokens=8,
        sampling=SamplingParams(max_thinking_tokens=40),  # lowers the strategy's 512
    )  # fmt: skip
    assert result.answer == "26" and result.details["waits"] == 1
    assert "server_budget" not in result.details
    [(first, first_params), *rest] = fake.calls
    assert first[0].prompt is not None  # a raw continuation of the rendered chat template
    assert first_params.max_tokens == 40 and first_params.max_thinking_tokens is None
    assert len(rest) == 2  # thinking again after Wait, then the forced answer


def test_a_server_budget_with_a_minimum_still_forces_the_thinking_itself():
    """A minimum needs the Wait loop, which needs the chat template: not the server's cap."""
    seen: list = []
    with pytest.raises(ThinktimeError, match="chat template"):
        solve("2+2?", backend=backend(seen, "thinking_token_budget"),
              strategy="budget_forcing", min_thinking_tokens=8)  # fmt: skip
    assert seen == []


@pytest.mark.parametrize(("level", "cap"), [("low", 512), ("high", 4096)])
def test_reasoning_effort_sends_its_thinking_cap_to_a_server_that_takes_one(level, cap):
    seen: list = []
    solve("2+2?", backend=backend(seen, "thinking_token_budget"), reasoning_effort=level)
    assert {body["thinking_token_budget"] for body in seen} == {cap}
    # an explicit cap wins over the level's
    seen.clear()
    solve("2+2?", backend=backend(seen, "thinking_token_budget"), reasoning_effort=level,
          max_thinking_tokens=32)  # fmt: skip
    assert {body["thinking_token_budget"] for body in seen} == {32}


def test_reasoning_effort_on_a_backend_without_a_thinking_budget_sends_none():
    seen: list = []
    result = solve("2+2?", backend=backend(seen, None), reasoning_effort="low")
    assert result.answer == "4" and "thinking_token_budget" not in seen[0]


def test_a_bad_thinking_cap_in_an_effort_file_is_one_clear_error(tmp_path, monkeypatch):
    efforts = tmp_path / "efforts.toml"
    efforts.write_text('[default.low]\nstrategy = "cot"\nmax_thinking_tokens = -3\n')
    monkeypatch.setenv("THINKTIME_EFFORTS", str(efforts))
    with pytest.raises(ThinktimeError, match="bad max_thinking_tokens for reasoning_effort 'low'"):
        solve("2+2?", backend=FakeBackend(), reasoning_effort="low")
