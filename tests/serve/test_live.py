"""The official openai client against a live server on loopback running the real embedded model."""

import pytest

pytestmark = pytest.mark.integration
EASY = "Tom has 3 apples and buys 2 more apples. How many apples does Tom have now?"


@pytest.fixture(scope="module")
def live(serve_url):
    from openai import OpenAI

    return OpenAI(base_url=serve_url, api_key="unused")


def test_plain_chat(live):
    reply = live.chat.completions.create(
        model="qwen2.5-coder-0.5b",
        messages=[{"role": "user", "content": "Say hello."}],
        max_tokens=16,
    )
    assert reply.choices[0].message.content
    assert 0 < reply.usage.completion_tokens <= 16


def test_reasoning_effort_high_and_usage_consistent_with_the_bill(live):
    reply = live.chat.completions.create(
        model="qwen2.5-coder-0.5b", messages=[{"role": "user", "content": EASY}],
        reasoning_effort="high", max_completion_tokens=3000, seed=3,
    )  # fmt: skip
    extra = reply.model_extra["thinktime"]
    assert extra["strategy"] == "adaptive_consistency"
    assert reply.choices[0].message.content == "5"
    assert reply.usage.completion_tokens <= 3000  # the whole answer: every sample counted
    assert reply.usage.completion_tokens == extra["bill"]["completion_tokens"]
    assert (
        reply.usage.completion_tokens_details.reasoning_tokens == extra["bill"]["reasoning_tokens"]
    )
    assert reply.choices[0].message.model_extra["reasoning_content"]


def test_streaming(live):
    stream = live.chat.completions.create(
        model="cot/qwen2.5-coder-0.5b", messages=[{"role": "user", "content": EASY}],
        max_tokens=200, stream=True,
    )  # fmt: skip
    pieces = [chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices]
    assert len(pieces) > 10
    assert "5" in "".join(pieces)


def test_multi_turn(live):
    reply = live.chat.completions.create(
        model="cot/qwen2.5-coder-0.5b",
        messages=[
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Tom has 3 apples."},
            {"role": "assistant", "content": "OK, Tom has 3 apples."},
            {"role": "user", "content": "He buys 2 more. How many apples does he have now?"},
        ],
        max_tokens=200,
    )
    assert reply.choices[0].message.content == "5"
