"""A per-request thinking cap on the embedded engine (`max_thinking_tokens` → llama.cpp's
reasoning budget, or s1's forcing for a raw prompt that opened the thinking itself).

Scripted first: the tags as a tokenizer splits them, the body the engine is sent, and the
two-call forcing with its bill. Then the real 0.5B (integration): it is no thinking model, so a
few-shot chat makes it write `<think>…</think>` before its answer, and the cap must bind.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from thinktime.answers.extract import thinking_tokens
from thinktime.backends.base import caps_thinking
from thinktime.backends.llamacpp import LlamaCppBackend
from thinktime.backends.llamacpp_thinking import (
    budget_fields,
    budget_tags,
    closing,
    force_end,
    forcing,
    matchable,
    thinking_open,
)
from thinktime.backends.thinking import ThinkTags
from thinktime.compute.ledger import Ledger
from thinktime.errors import BackendError
from thinktime.sampling import SamplingParams
from thinktime.types import Completion, Message, Request

TAGS = ThinkTags()


def qwen_like(text: str) -> tuple[str, ...]:
    """Tokens as Qwen's tokenizer splits the tags: `<th` `ink` `>`, whitespace merged into the
    `>`, a space or full stop merged into `</`; other text a token per word."""
    pieces = re.findall(r"<th|ink|[ .]?</|think|>\s*|\s*[^\s<>]+|\s+", text)
    return tuple(pieces)


# --- the tags llama.cpp is told ------------------------------------------------------------


def test_tags_are_cut_back_to_the_tokens_the_model_writes_whatever_follows():
    assert qwen_like("<think>\n") == ("<th", "ink", ">\n")  # the stand-in splits like Qwen
    assert matchable("<think>", qwen_like) == "<think"
    start, ends = budget_tags(TAGS, qwen_like) or ("", ())
    assert start == "<think"
    assert ends[0] == "</think>"  # the one forced at the cap: whole
    assert set(ends[1:]) == {"</think", " </think", ".</think"}
    # every form matches the start of the tag's tokens as the model may write it
    for form, written in ((start, "<think>\n\n"), (ends[1], "</think>\n"), (ends[2], " </think>")):
        assert qwen_like(written)[: len(qwen_like(form))] == qwen_like(form)


def test_a_tokenizer_that_keeps_tags_whole_sends_them_whole():
    whole = lambda text: tuple(re.findall(r"</?think>|\S+|\s+", text))  # noqa: E731
    assert budget_tags(TAGS, whole) == ("<think>", ("</think>", " </think>", ".</think>"))


def test_a_model_without_think_tags_cannot_be_capped_and_says_so_in_one_line():
    assert budget_tags(None, qwen_like) is None
    with pytest.raises(BackendError, match=r"^qwen was given no think_tags, so it cannot cap"):
        budget_fields(8, None, "qwen")


def test_a_raw_prompt_has_opened_the_thinking_when_its_last_open_tag_is_unclosed():
    assert thinking_open("q\n<|im_start|>assistant\n<think>\n", TAGS)
    assert not thinking_open("<think>x</think>\n\nso 4. Next: ", TAGS)
    assert not thinking_open("2+3=", TAGS)
    # only a capped call on such a raw prompt is forced s1's way; chat goes to the engine
    capped, free = SamplingParams(max_thinking_tokens=8), SamplingParams()
    opened = Request(prompt="<think>\n")
    assert forcing(opened, capped, TAGS)
    assert not forcing(opened, free, TAGS) and not forcing(opened, capped, None)
    assert not forcing(Request(messages=(Message("user", "<think>"),)), capped, TAGS)


# --- the body the engine gets ---------------------------------------------------------------


class _Engine:
    """A stand-in for xllamacpp's server: records each body, answers a thought and an answer."""

    def __init__(self) -> None:
        self.bodies: list[dict] = []

    def handle_chat_completions(self, body: dict) -> dict:
        self.bodies.append(body)
        message = {"content": "<think>\n2+2 is 4\n</think>\n\n4"}
        return {"choices": [{"message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 5}}  # fmt: skip

    def handle_completions(self, body: dict) -> dict:
        self.bodies.append(body)
        if body["prompt"].endswith(closing(TAGS)):
            usage = {"prompt_tokens": 20, "prompt_tokens_details": {"cached_tokens": 17}}
            return {"choices": [{"text": "4", "finish_reason": "stop"}], "usage": usage}
        text = " ".join(["hmm"] * body["max_tokens"])  # thinks until cut
        return {"choices": [{"text": text, "finish_reason": "length"}],
                "usage": {"prompt_tokens": 6}}  # fmt: skip


def _embedded(engine: _Engine) -> LlamaCppBackend:
    """The llama.cpp backend around `engine` (no model loaded); tokens as `qwen_like`."""
    backend = object.__new__(LlamaCppBackend)
    backend.name, backend.card, backend.n_parallel = "qwen", None, 4
    backend.think_tags, backend.thinking_budget_field = TAGS, "reasoning_budget_tokens"
    backend._budget_tags = budget_tags(TAGS, qwen_like)
    backend._server = engine
    backend._pool = ThreadPoolExecutor(max_workers=2)
    backend.tokenize = qwen_like  # type: ignore[method-assign]
    return backend


def test_a_chat_call_carries_llamas_reasoning_budget_and_the_ledger_lets_it_through():
    engine = _Engine()
    backend = _embedded(engine)
    assert caps_thinking(backend)
    chat = Request(messages=(Message("user", "2+2?"),))
    [generation] = Ledger(backend).generate([chat], SamplingParams(max_thinking_tokens=16))
    body = engine.bodies[-1]
    assert body["reasoning_budget_tokens"] == 16
    assert body["reasoning_budget_start_tag"] == "<think"
    # the end forced at the cap is the tag as a model writes it; the bare forms are matched
    assert body["reasoning_budget_end_tags"][0] == "\n</think>\n\n"
    assert set(body["reasoning_budget_end_tags"][1:]) >= {"</think>", "</think", " </think"}
    assert body["reasoning_budget_message"] == ""
    assert generation.completions[0].reasoning == "2+2 is 4"
    # no cap, no budget fields
    backend.generate([chat], SamplingParams())
    assert "reasoning_budget_tokens" not in engine.bodies[-1]


def test_a_raw_prompt_that_opened_the_thinking_is_cut_and_closed_in_two_calls():
    engine = _Engine()
    backend = _embedded(engine)
    prompt = "<|im_start|>assistant\n<think>\n"
    raw = Request(prompt=prompt)
    [generation] = backend.generate([raw], SamplingParams(max_tokens=40, max_thinking_tokens=5))
    first, second = engine.bodies
    assert "reasoning_budget_tokens" not in first and first["max_tokens"] == 5
    assert second["prompt"] == prompt + " ".join(["hmm"] * 5) + closing(TAGS)
    [completion] = generation.completions
    assert completion.text == " ".join(["hmm"] * 5) + closing(TAGS) + "4"
    assert completion.finish_reason == "stop"
    assert second["max_tokens"] == 40 - 5  # what the thinking left
    assert completion.completion_tokens == 5 + 2  # "4" and the end of turn
    # both prefills billed, the second mostly from the cache
    assert (generation.prompt_tokens, generation.cached_prompt_tokens) == (26, 17)


# --- s1's forcing, scripted -------------------------------------------------------------------


def _script(*replies: tuple[str, str, int]):
    """A call that answers `replies` in order, recording (prompt, max_tokens, on_delta index)."""
    calls: list[tuple[str, int]] = []

    def call(request, params, n, seed, *, on_delta):
        calls.append((request.prompt, params.max_tokens))
        assert params.max_thinking_tokens is None
        text, finish, tokens = replies[len(calls) - 1]
        if on_delta is not None:
            on_delta(0, text)
        return {"prompt_tokens": 10}, [Completion(text, finish, tokens)] * n

    return call, calls


def test_thinking_cut_by_the_cap_is_closed_and_the_answer_gets_the_rest():
    call, calls = _script(("a b c", "length", 3), ("4", "stop", 2))
    params = SamplingParams(max_tokens=20, max_thinking_tokens=3)
    usage, [c] = force_end(call, Request(prompt="<think>"), params, 1, 7, TAGS)
    assert calls == [("<think>", 3), ("<think>a b c" + closing(TAGS), 17)]
    assert (c.text, c.completion_tokens, c.finish_reason) == (
        "a b c" + closing(TAGS) + "4",
        5,
        "stop",
    )
    assert usage["prompt_tokens"] == 20


def test_an_answer_cut_by_the_cap_goes_on_without_a_second_close():
    call, calls = _script(("a</think>4", "length", 3), (" more", "stop", 2))
    params = SamplingParams(max_tokens=20, max_thinking_tokens=3)
    _, [c] = force_end(call, Request(prompt="<think>"), params, 1, None, TAGS)
    assert calls[1] == ("<think>a</think>4", 17) and c.text == "a</think>4 more"


def test_a_sample_that_ended_itself_or_spent_max_tokens_is_not_continued():
    call, calls = _script(("a</think>4", "stop", 3))
    params = SamplingParams(max_tokens=20, max_thinking_tokens=8)
    _, [c] = force_end(call, Request(prompt="<think>"), params, 1, None, TAGS)
    assert len(calls) == 1 and c.text == "a</think>4"
    call, calls = _script(("a b", "length", 2))  # max_tokens below the cap: all spent thinking
    params = SamplingParams(max_tokens=2, max_thinking_tokens=8)
    force_end(call, Request(prompt="<think>"), params, 1, None, TAGS)
    assert calls == [("<think>", 2)]


def test_each_sample_of_n_is_continued_on_its_own_and_its_deltas_keep_its_index():
    call, _ = _script(("a", "length", 1), ("4", "stop", 1), ("5", "stop", 1))
    seen: list[tuple[int, str]] = []
    params = SamplingParams(max_tokens=9, max_thinking_tokens=1)
    _, samples = force_end(
        call, Request(prompt="<think>"), params, 2, None, TAGS, lambda i, t: seen.append((i, t))
    )
    assert [s.text for s in samples] == ["a" + closing(TAGS) + "4", "a" + closing(TAGS) + "5"]
    assert seen[1:] == [(0, closing(TAGS)), (0, "4"), (1, closing(TAGS)), (1, "5")]


# --- the real 0.5B ------------------------------------------------------------------------------

FEW_SHOT = (
    Message("system", "Think step by step inside <think> </think> tags, then give the answer."),
    Message("user", "What is 12+9?"),
    Message("assistant", "<think>\n12+9: 12+8=20, plus 1 is 21.\n</think>\n\n21"),
    Message("user", "What is 7*8?"),
    Message("assistant", "<think>\n7*8 = 56 since 7*7=49 and 49+7=56.\n</think>\n\n56"),
    Message("user", "A farmer has 17 rows of 23 trees. How many trees?"),
)
GREEDY = SamplingParams(temperature=0.0, max_tokens=96)


def _thought(backend: LlamaCppBackend, completion: Completion) -> int:
    return len(backend.tokenize(completion.reasoning or ""))


@pytest.mark.integration
def test_the_engine_ends_the_thinking_at_the_cap_and_the_model_answers(embedded):
    request = Request(messages=FEW_SHOT, n=2)
    [free] = embedded.generate([request], GREEDY)
    [capped] = embedded.generate([request], GREEDY.with_(max_thinking_tokens=8))
    assert all(_thought(embedded, c) > 12 for c in free.completions)  # it thinks past the cap
    for completion in capped.completions:
        assert 0 < _thought(embedded, completion) <= 8
        # the bill's thinking count holds the tags too: `<th` `ink` (the budget counts from
        # the `>\n` on) and the forced `\n` `</` `think` `>\n\n`
        assert thinking_tokens(completion) <= 2 + 8 + 4
        assert completion.text.strip() and "</think>" not in completion.text


@pytest.mark.integration
def test_thinking_that_ends_below_the_cap_is_left_alone(embedded):
    [free] = embedded.generate([Request(messages=FEW_SHOT)], GREEDY)
    [roomy] = embedded.generate([Request(messages=FEW_SHOT)], GREEDY.with_(max_thinking_tokens=64))
    assert roomy.completions[0].text == free.completions[0].text
    assert roomy.completions[0].reasoning == free.completions[0].reasoning


@pytest.mark.integration
def test_a_streamed_chat_call_is_capped_too(embedded):
    pieces: list[str] = []
    [capped] = embedded.generate_streamed(
        [Request(messages=FEW_SHOT)], GREEDY.with_(max_thinking_tokens=8), None,
        lambda _, text: pieces.append(text),
    )  # fmt: skip
    [completion] = capped.completions
    assert 0 < _thought(embedded, completion) <= 8 and completion.text.strip()
    assert pieces


@pytest.mark.integration
def test_a_raw_prompt_that_opened_the_thinking_is_capped_by_forcing(embedded):
    prompt = embedded.chat_prompt(FEW_SHOT) + "<think>\n"
    [free] = embedded.generate([Request(prompt=prompt)], GREEDY)
    [capped] = embedded.generate([Request(prompt=prompt)], GREEDY.with_(max_thinking_tokens=8))
    [completion] = capped.completions
    thinking, closed, answer = completion.text.partition("</think>")
    assert closed and answer.strip()
    assert len(embedded.tokenize(thinking.strip())) <= 8
    assert len(embedded.tokenize(free.completions[0].text.partition("</think>")[0])) > 12
    # the continuation's prefill is billed too, most of it from the engine's cache
    assert capped.prompt_tokens > free.prompt_tokens and capped.cached_prompt_tokens > 0
