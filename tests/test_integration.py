"""The real embedded model (Qwen2.5-Coder-0.5B on llama.cpp): few, short, and able to fail."""

import threading

import pytest

from thinktime import solve
from thinktime.backends.openai_compat import OpenAIBackend
from thinktime.sampling import SamplingParams
from thinktime.types import Message, Request

pytestmark = pytest.mark.integration
EASY = "Tom has 3 apples and buys 2 more apples. How many apples does Tom have now?"


def test_cot_answers_an_easy_word_problem(embedded):
    result = solve(EASY, backend=embedded, strategy="cot", max_tokens=256)
    assert result.answer == "5", result.text
    bill = result.bill
    assert bill.completion_tokens == result.samples[0].completion_tokens > 0
    assert 0 < bill.reasoning_tokens <= bill.completion_tokens
    assert bill.flops > 2 * embedded.card.n_matmul_params * bill.completion_tokens


def test_self_consistency_n4_is_one_batched_request(embedded):
    before = embedded.engine_stats()
    result = solve(EASY, backend=embedded, strategy="self_consistency", n=4, max_tokens=256, seed=7)
    after = embedded.engine_stats()
    assert result.answer == "5", result.votes
    assert len(result.samples) == 4 and result.bill.calls == 1
    tokens = [s.completion_tokens for s in result.samples]
    # 1) the engine computed the prompt once for all four samples (shared prefill) …
    computed = after["prompt_tokens_total"] - before["prompt_tokens_total"]
    assert computed == result.bill.prompt_tokens - result.bill.cached_prompt_tokens
    assert result.bill.prompt_tokens < 2 * computed + result.bill.cached_prompt_tokens + 1
    # 2) … and decoded the four sequences together: one decode step per token of the longest
    assert after["tokens_predicted_total"] - before["tokens_predicted_total"] == sum(tokens)
    decodes = after["n_decode_total"] - before["n_decode_total"]
    assert decodes <= max(tokens) + 2 < sum(tokens)


def test_requests_for_different_prompts_batch_together(embedded):
    prompts = ["Count: 1, 2, 3,", "Colors: red, green,", "Days: Monday, Tuesday,"]
    before = embedded.engine_stats()
    generations = embedded.generate(
        [Request(prompt=p, n=1) for p in prompts], SamplingParams(max_tokens=12, temperature=0.0)
    )
    after = embedded.engine_stats()
    assert [len(g.completions) for g in generations] == [1, 1, 1]
    tokens = sum(g.completions[0].completion_tokens for g in generations)
    decodes = after["n_decode_total"] - before["n_decode_total"]
    assert decodes < tokens  # sequences shared decode steps


def test_openai_backend_against_the_engines_own_endpoint(embedded):
    backend = OpenAIBackend("qwen", base_url=embedded.base_url)
    [g] = backend.generate(
        [Request(messages=(Message("user", "Say hi."),), n=2)],
        SamplingParams(max_tokens=8, temperature=0.8),
    )
    assert len(g.completions) == 2
    assert all(0 < c.completion_tokens <= 8 for c in g.completions)
    assert g.prompt_length > 0


def test_tokenizer_pieces_are_text_even_for_partial_characters(embedded):
    from thinktime.backends.wire import piece_text as _piece_text

    assert _piece_text([0xE6, 0x97]) == "" and _piece_text("ab") == "ab"
    pieces = embedded.tokenize("日本語の数学 🍎 apples")
    assert all(isinstance(p, str) for p in pieces)
    assert "apples" in "".join(pieces)


@pytest.mark.parametrize("n", [1, 3])
def test_a_streamed_call_with_logprobs_bills_what_the_engine_generated(embedded, n):
    """A stream carries no logprob for the end-of-turn token: counted anyway (it was 1 short
    per sample, 6% of a served deepconf load's tokens)."""
    params = SamplingParams(max_tokens=40, temperature=0.0, top_logprobs=5)
    request = Request(messages=(Message("user", "Say hi in three words."),), n=n)
    before = embedded.engine_stats()
    [generation] = embedded.generate_until([request], params, threading.Event())
    after = embedded.engine_stats()
    assert all(c.finish_reason == "stop" for c in generation.completions)
    spent = sum(c.completion_tokens for c in generation.completions)
    assert spent == after["tokens_predicted_total"] - before["tokens_predicted_total"]
