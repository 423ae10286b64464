"""The thinking codec: each dialect split into (thinking, visible text), a reply cut off while
thinking, reasoning tokens counted or taken from the server, and the embedded engine's path
(llama.cpp's reply handling with a stand-in for the engine, no model loaded)."""

import re
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from thinktime import solve
from thinktime.answers.extract import extract_answer, reasoning_tokens
from thinktime.backends.llamacpp import LlamaCppBackend
from thinktime.backends.llamacpp_stream import streamed
from thinktime.backends.thinking import ThinkTags, reasoning_usage, split_thinking
from thinktime.backends.wire import delta_reasoning, generated_text, parse_choice
from thinktime.sampling import SamplingParams
from thinktime.types import Completion, Message, Request

THOUGHT = "is it \\boxed{5}? no, 2+2=4"


@pytest.mark.parametrize(
    ("message", "thinking", "text"),
    [
        ({"content": f"<think>{THOUGHT}</think>\n\nAnswer: 4"}, THOUGHT, "Answer: 4"),
        ({"content": f"\n<think>\n{THOUGHT}\n</think>Answer: 4"}, THOUGHT, "Answer: 4"),
        ({"content": f"{THOUGHT}\n</think>\n\nAnswer: 4"}, THOUGHT, "Answer: 4"),  # R1 template
        ({"content": "\n\nAnswer: 4", "reasoning": THOUGHT}, THOUGHT, "Answer: 4"),  # vLLM
        ({"content": "Answer: 4", "reasoning_content": THOUGHT}, THOUGHT, "Answer: 4"),  # SGLang
        ({"content": None, "reasoning": THOUGHT}, THOUGHT, ""),  # vLLM, cut off while thinking
        ({"content": "Answer: 4", "reasoning": None}, None, "Answer: 4"),  # no parser, no thinking
    ],
)
def test_every_dialect_splits_the_thinking_from_the_answer(message, thinking, text):
    completion = parse_choice({"message": message, "finish_reason": "stop"})
    assert (completion.reasoning, completion.text) == (thinking, text)
    assert extract_answer(completion.text) == ("4" if text else None)  # never the boxed 5


def test_an_unclosed_think_is_all_thinking_and_gives_no_answer():
    """Cut off by its token budget while thinking: the boxed guess inside is not the answer."""
    choice = {"message": {"content": "<think>maybe \\boxed{5}, or"}, "finish_reason": "length"}
    completion = parse_choice(choice)
    assert (completion.reasoning, completion.text) == ("maybe \\boxed{5}, or", "")
    assert extract_answer(completion.text) is None
    counted = Completion(completion.text, "length", 9, reasoning=completion.reasoning)
    assert reasoning_tokens(counted) == 9  # no answer: every token was reasoning


def test_the_tags_are_configurable_and_can_be_turned_off():
    tags = ThinkTags(open="<reasoning>", close="</reasoning>")
    assert split_thinking("<reasoning>5?</reasoning> 4", tags) == ("5?", "4")
    assert split_thinking("<think>5?</think> 4", tags) == (None, "<think>5?</think> 4")
    assert split_thinking("<think>5?</think> 4", None) == (None, "<think>5?</think> 4")
    with pytest.raises(ValueError):
        ThinkTags(open="")


def test_a_raw_continuation_is_left_as_the_caller_wrote_it():
    """`/v1/completions` text continues the caller's own prompt (budget forcing appends to it)."""
    completion = parse_choice({"text": "more thought</think>4", "finish_reason": "stop"})
    assert (completion.reasoning, completion.text) == (None, "more thought</think>4")


def test_wire_helpers_for_counting_and_streaming():
    assert generated_text({"message": {"reasoning": "hm ", "content": "4"}}) == "hm 4"
    assert generated_text({"text": "5"}) == "5"
    assert delta_reasoning({"delta": {"reasoning": "hm"}}) == "hm"
    assert delta_reasoning({"delta": {"reasoning_content": "hm", "content": None}}) == "hm"
    assert reasoning_usage({"completion_tokens_details": {"reasoning_tokens": 0}}) == 0
    assert reasoning_usage({"completion_tokens_details": None}) is None


def test_reasoning_tokens_count_the_thinking_then_the_words_before_the_answer():
    # 1) exact, from the tokens: the 5 thinking tokens, then "so" before the answer
    pieces = ("<think>", "a", " b", " c", "</think>", "\n\nso", " \\boxed{4}")
    raw = "".join(pieces)
    reasoning, text = split_thinking(raw)
    exact = Completion(text, "stop", len(pieces), tokens=pieces, reasoning=reasoning)
    assert reasoning_tokens(exact) == 6
    # 2) the server's count of the thinking wins over ours; the words before the answer add
    assert reasoning_tokens(Completion(text, "stop", 7, tokens=pieces, reasoning=reasoning,
                                       reasoning_tokens=3)) == 4  # fmt: skip
    # 3) no tokens: the thinking's character share, then the visible text's
    shared = Completion("\\boxed{4}", "stop", 30, reasoning="x" * 20)
    assert reasoning_tokens(shared) == round(30 * 20 / 29)
    # 4) a model that does not think apart: unchanged, the tokens before the answer
    plain = Completion("so \\boxed{4}", "stop", 2, tokens=("so", " \\boxed{4}"))
    assert reasoning_tokens(plain) == 1


class _Engine:
    """A stand-in for xllamacpp's server: a reasoning model's reply, whole or streamed."""

    def __init__(self, content: str, usage: dict) -> None:
        self.content, self.usage, self.bodies = content, usage, []

    def handle_chat_completions(self, body, callback=None):
        self.bodies.append(body)
        n = body.get("n", 1)
        if callback is None:
            choices = [
                {"index": i, "message": {"content": self.content}, "finish_reason": "stop"}
                for i in range(n)
            ]
            return {"choices": choices, "usage": self.usage}
        # streamed: the thinking apart, as llama.cpp's reasoning_format=deepseek sends it
        thinking, text = split_thinking(self.content)
        for i in range(n):
            callback({"choices": [{"index": i, "delta": {"reasoning_content": thinking}}]})
            callback({"choices": [{"index": i, "delta": {"content": text}}]})
            callback({"choices": [{"index": i, "delta": {}, "finish_reason": "stop"}]})
        callback({"choices": [], "usage": self.usage})
        return None


def _embedded(engine: _Engine) -> LlamaCppBackend:
    """The llama.cpp backend around `engine` (no model loaded); tokens are words."""
    backend = object.__new__(LlamaCppBackend)
    backend.name, backend.card, backend.n_parallel = "qwen3", None, 8
    backend.think_tags = ThinkTags()
    backend._server = engine
    backend._pool = ThreadPoolExecutor(max_workers=2)
    backend.tokenize = lambda text: tuple(re.findall(r"\s*\S+|\s+", text))
    return backend


CONTENT = f"<think>{THOUGHT}</think>\n\nAnswer: 4"


def test_the_embedded_engine_splits_thinking_and_counts_it():
    engine = _Engine(CONTENT, {"prompt_tokens": 5, "completion_tokens": 99})
    backend = _embedded(engine)
    request = Request(messages=(Message("user", "2+2?"),))
    _, [completion] = backend._call(request, SamplingParams(), 1, None)
    assert (completion.reasoning, completion.text) == (THOUGHT, "Answer: 4")
    # counted by the tokenizer over all the model wrote, tags included, + end-of-turn
    words = re.findall(r"\s*\S+|\s+", CONTENT)
    assert completion.completion_tokens == len(words) + 1
    assert reasoning_tokens(completion) == len(words) - 2  # all but "\n\nAnswer:" and " 4"
    result = solve("2+2?", backend=backend, strategy="self_consistency", n=2)
    assert result.answer == "4" and [s.reasoning for s in result.samples] == [THOUGHT] * 2


def test_the_embedded_engine_streamed_keeps_the_thinking_apart():
    usage = {"prompt_tokens": 5, "completion_tokens": 12,
             "completion_tokens_details": {"reasoning_tokens": 8}}  # fmt: skip
    engine = _Engine(CONTENT, usage)
    reply = streamed(engine.handle_chat_completions, {"n": 1}, threading.Event())
    assert reply["choices"][0]["message"] == {"content": "Answer: 4", "reasoning_content": THOUGHT}
    # through the backend (cancellable, so streamed): the engine's own thinking count is kept
    backend = _embedded(engine)
    request = Request(messages=(Message("user", "2+2?"),))
    _, [completion] = backend._call(request, SamplingParams(), 1, None, threading.Event())
    assert (completion.reasoning, completion.text) == (THOUGHT, "Answer: 4")
    assert completion.reasoning_tokens == 8 and reasoning_tokens(completion) == 8


def test_think_tags_are_a_backend_option():
    from thinktime.backends import make_backend
    from thinktime.errors import ThinktimeError

    tags = {"open": "<reasoning>", "close": "</reasoning>"}
    url = "http://test/v1"  # never reached
    assert make_backend("openai:m", think_tags=tags, base_url=url).think_tags == ThinkTags(**tags)
    assert make_backend("openai:m", think_tags=None, base_url=url).think_tags is None
    assert make_backend("openai:m", base_url=url).think_tags == ThinkTags()
    with pytest.raises(ThinktimeError, match=r"think_tags\.open"):
        make_backend("openai:m", think_tags={"open": ""}, base_url=url)
