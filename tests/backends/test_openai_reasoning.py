"""Reasoning models behind an OpenAI-compatible server, in each dialect, through `solve`.

A scripted server (httpx2.MockTransport) answers like a reasoning model whose thinking tries a
different `\\boxed{}` first: in `<think>…</think>` inside the content (R1 distills, QwQ, Qwen3
without a parser), in `message.reasoning` (vLLM) or in `message.reasoning_content` (SGLang,
DeepSeek, older vLLM), with `usage.completion_tokens_details.reasoning_tokens`.
"""

import json
import re

import httpx2
import pytest

from thinktime import solve
from thinktime.backends.openai_compat import OpenAIBackend
from thinktime.backends.thinking import ThinkTags

THINKING = "2+2 could be \\boxed{5}? No: two and two make four, and 17 is prime anyway."
SERVER_REASONING = 33  # the server's count of the thinking tokens, per choice
DIALECTS = ("content", "reasoning", "reasoning_content")


def message(dialect: str, visible: str, thinking: str = THINKING) -> dict:
    """The assistant message a reasoning model's reply comes in, in `dialect`."""
    if dialect == "content":
        return {"role": "assistant", "content": f"<think>\n{thinking}\n</think>\n\n{visible}"}
    return {"role": "assistant", "content": f"\n\n{visible}", dialect: thinking}


def tokens(text: str) -> list[str]:
    """Word-like tokens, each with its leading blanks (as the fake backend counts)."""
    return re.findall(r"\s*\S+|\s+", text)


def generated(dialect: str, visible: str) -> str:
    """All the model wrote for `message(dialect, visible)`, thinking first."""
    msg = message(dialect, visible)
    return ("" if dialect == "content" else msg[dialect]) + msg["content"]


def server(dialect: str, answers=("Answer: 4",), honour_n: bool = False, seen=None):
    """A handler answering in `dialect`: visible texts from `answers` in turn. With `honour_n`
    it answers n choices with logprobs (and one usage for all); else one choice per call."""
    turn = iter(range(10**6))

    def choice(index: int, with_logprobs: bool) -> dict:
        visible = answers[next(turn) % len(answers)]
        raw = generated(dialect, visible)
        pieces = [{"token": t, "logprob": -0.1, "top_logprobs": []} for t in tokens(raw)]
        return {
            "index": index,
            "finish_reason": "stop",
            "message": message(dialect, visible),
            "logprobs": {"content": pieces} if with_logprobs else None,
        }

    def handler(request):
        body = json.loads(request.content)
        if seen is not None:
            seen.append(body)
        n = body.get("n", 1) if honour_n else 1
        choices = [choice(i, honour_n) for i in range(n)]
        usage = {
            "prompt_tokens": 7,
            "completion_tokens": 40 * n,
            "total_tokens": 7 + 40 * n,
            "completion_tokens_details": {"reasoning_tokens": SERVER_REASONING * n + 999},
        }
        if n == 1:
            usage["completion_tokens_details"]["reasoning_tokens"] = SERVER_REASONING
        return httpx2.Response(
            200,
            json={"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                  "choices": choices, "usage": usage},
        )  # fmt: skip

    return handler


def backend(handler, **options) -> OpenAIBackend:
    client = httpx2.Client(transport=httpx2.MockTransport(handler))
    return OpenAIBackend("m", base_url="http://test/v1", http_client=client, **options)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_cot_answers_from_after_the_thinking_and_bills_the_servers_reasoning(dialect):
    result = solve("2+2?", backend=backend(server(dialect)), strategy="cot")
    assert result.answer == "4"  # not the \\boxed{5} tried while thinking, though boxed ranks first
    [sample] = result.samples
    assert (sample.text, sample.reasoning) == ("Answer: 4", THINKING)
    # the answer starts the visible text: all that came before it is the server's thinking
    assert result.bill.reasoning_tokens == SERVER_REASONING == sample.reasoning_tokens
    assert result.bill.completion_tokens == 40


@pytest.mark.parametrize("dialect", DIALECTS)
def test_self_consistency_votes_on_what_follows_the_thinking(dialect):
    answers = ("Answer: 4", "So it is 4.", "Answer: 3")
    seen: list = []
    handler = server(dialect, answers, seen=seen)  # ignores n: one choice a call
    result = solve("2+2?", backend=backend(handler), strategy="self_consistency", n=3)
    assert result.answer == "4" and result.votes == {"4": 2.0, "3": 1.0}
    assert all(s.reasoning == THINKING for s in result.samples)
    # each call's usage is its one choice's: the server's thinking count, plus the visible
    # words before the answer (the 8 characters of "So it is" of the 11 of 7 visible tokens)
    visible_before = round((40 - SERVER_REASONING) * len("So it is") / len(answers[1]))
    assert result.bill.reasoning_tokens == 3 * SERVER_REASONING + visible_before
    assert [body.get("n", 1) for body in seen] == [3, 1, 1]  # n ignored: the rest one by one


@pytest.mark.parametrize("dialect", DIALECTS)
def test_an_n_choice_call_counts_each_choices_thinking_from_its_logprobs(dialect):
    """One usage for n choices cannot be split between them: the server's aggregate (here a
    deliberately odd figure) is not used; each choice's thinking is counted from its tokens."""
    answers = ("Answer: 4", "Answer: 4", "Answer: 3")
    result = solve(
        "2+2?", backend=backend(server(dialect, answers, honour_n=True)),
        strategy="self_consistency", n=3,
    )  # fmt: skip
    assert result.answer == "4" and result.votes == {"4": 2.0, "3": 1.0}
    thought = generated(dialect, "Answer: 4")
    # every token before the visible "Answer: 4" is thinking (whose token carries the blank lines)
    per_choice = len(tokens(thought)) - len(tokens("Answer: 4"))
    assert [s.reasoning_tokens for s in result.samples] == [per_choice] * 3
    assert result.bill.reasoning_tokens == 3 * per_choice
    assert result.bill.completion_tokens == 3 * len(tokens(thought))


def test_a_reply_cut_off_while_thinking_has_no_answer():
    def handler(request):
        cut = {
            "index": 0,
            "finish_reason": "length",
            "logprobs": None,
            "message": {"role": "assistant", "content": "<think>maybe \\boxed{5}, or 6"},
        }
        return httpx2.Response(
            200, json={"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                       "choices": [cut], "usage": {"prompt_tokens": 7, "completion_tokens": 12}},
        )  # fmt: skip

    result = solve("2+2?", backend=backend(handler), strategy="cot")
    [sample] = result.samples
    assert result.answer is None and sample.answer is None and sample.text == ""
    assert sample.reasoning == "maybe \\boxed{5}, or 6"
    assert result.bill.reasoning_tokens == 12  # all of it was thinking


def test_the_delimiters_are_the_models_own():
    def handler(request):
        content = "<|begin_of_thought|>\\boxed{5}?<|end_of_thought|>\nAnswer: 4"
        reply = {
            "index": 0,
            "finish_reason": "stop",
            "logprobs": None,
            "message": {"role": "assistant", "content": content},
        }
        return httpx2.Response(
            200, json={"id": "x", "object": "chat.completion", "created": 0, "model": "m",
                       "choices": [reply], "usage": {"prompt_tokens": 7, "completion_tokens": 9}},
        )  # fmt: skip

    tags = ThinkTags(open="<|begin_of_thought|>", close="<|end_of_thought|>")
    result = solve("2+2?", backend=backend(handler, think_tags=tags), strategy="cot")
    assert (result.answer, result.samples[0].reasoning) == ("4", "\\boxed{5}?")
    plain = solve("2+2?", backend=backend(handler), strategy="cot")  # the default <think> tags
    assert (plain.answer, plain.samples[0].reasoning) == ("5", None)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_server_returns_the_thinking_as_reasoning_content(dialect):
    from fastapi.testclient import TestClient

    from thinktime.serve.app import ServerConfig, create_app

    client = httpx2.Client(transport=httpx2.MockTransport(server(dialect)))
    backend = OpenAIBackend("m", base_url="http://test/v1", http_client=client)
    app = TestClient(create_app(backend, ServerConfig(model="m")), base_url="http://127.0.0.1")
    body = {"model": "cot/m", "messages": [{"role": "user", "content": "2+2?"}]}
    message = app.post("/v1/chat/completions", json=body).json()["choices"][0]["message"]
    assert message["content"] == "4"
    assert THINKING in message["reasoning_content"]


def test_plain_chat_bills_no_reasoning_for_a_plain_reply():
    """Strategy `plain` has no final answer to look for: its reply is not reasoning."""
    from thinktime.backends.fake import FakeBackend

    result = solve("Say hi.", backend=FakeBackend(["Hi! How can I help?"]), strategy="plain")
    assert result.answer is None and result.text == "Hi! How can I help?"
    assert (result.bill.completion_tokens, result.bill.reasoning_tokens) == (5, 0)
    assert result.samples[0].reasoning_tokens == 0


@pytest.mark.parametrize("dialect", DIALECTS)
def test_plain_chat_bills_a_reasoning_models_thinking(dialect):
    handler = server(dialect, answers=("Hi! How can I help?",))
    result = solve("Say hi.", backend=backend(handler), strategy="plain")
    [sample] = result.samples
    assert result.answer is None and sample.reasoning == THINKING
    assert sample.text == "Hi! How can I help?"
    # the server's thinking count, and none of the visible reply (which has a number-free text)
    assert result.bill.reasoning_tokens == SERVER_REASONING == sample.reasoning_tokens
    assert result.bill.completion_tokens == 40


@pytest.mark.parametrize("dialect", DIALECTS)
def test_a_plain_reply_counts_only_its_thinking_from_its_tokens(dialect):
    """Without the server's count (an n-choice call) the thinking is counted from the tokens;
    a plain reply's visible words are not reasoning, though "3" would pass for an answer."""
    from thinktime.answers.extract import reasoning_tokens
    from thinktime.backends.wire import parse_choice

    visible = "Hi! Here are 3 ways I can help."
    raw = generated(dialect, visible)
    pieces = [{"token": t, "logprob": -0.1} for t in tokens(raw)]
    completion = parse_choice(
        {"message": message(dialect, visible), "logprobs": {"content": pieces}}
    )
    thinking = len(tokens(raw)) - len(tokens(visible))
    assert reasoning_tokens(completion, answered=False) == thinking
    assert reasoning_tokens(completion) == thinking + len(tokens("Hi! Here are"))
