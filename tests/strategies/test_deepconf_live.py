"""DeepConf on the real embedded model: one sample of a request is stopped mid-way while the
others go on, the engine's own counters agree with the bill, and the online strategy runs."""

from __future__ import annotations

import pytest

from tests.conftest import FARMER
from thinktime import solve
from thinktime.sampling import SamplingParams
from thinktime.types import CUT, Message, Request, TokenLogprob

pytestmark = pytest.mark.integration


def test_one_sample_is_stopped_and_the_others_go_on(embedded):
    seen: dict[int, list[TokenLogprob]] = {}

    def watch(index: int, token: TokenLogprob) -> bool:
        seen.setdefault(index, []).append(token)
        return index == 1 and len(seen[index]) == 5  # stop sample 1 at its 5th token

    request = Request(messages=(Message("user", FARMER),), n=3)
    params = SamplingParams(max_tokens=48, top_logprobs=20, seed=3, temperature=0.7)
    before = embedded.engine_stats()
    generation = embedded.generate_watched(request, params, watch)
    after = embedded.engine_stats()
    first, cut, third = generation.completions
    assert cut.finish_reason == CUT and cut.completion_tokens == 5
    assert generation.prompt_tokens == 3 * generation.prompt_length > 0  # the cut one's too
    assert first.finish_reason != CUT and third.finish_reason != CUT
    assert first.completion_tokens > 5 and third.completion_tokens > 5
    assert all(len(t.top) == 20 for t in seen[0])  # each token came with its top-20
    spent = sum(c.completion_tokens for c in generation.completions)
    predicted = after["tokens_predicted_total"] - before["tokens_predicted_total"]
    assert spent <= predicted <= spent + 1  # the engine stopped within a token of the watch


def test_online_deepconf_on_the_real_model(embedded):
    result = solve(FARMER, backend=embedded, strategy="deepconf", max_tokens=160, seed=5,
                   params={"n": 8, "warmup": 4, "batch": 4, "keep": 50})  # fmt: skip
    details = result.details
    assert 4 <= details["traces"] <= 8 and len(result.samples) == details["traces"]
    assert result.bill.samples == details["traces"]
    assert result.bill.samples_cut == details["cut"]
    assert result.bill.completion_tokens == sum(s.completion_tokens for s in result.samples)
    warm = result.samples[:4]
    assert all(s.confidence is not None and s.finish_reason != CUT for s in warm)
    for sample in result.samples:
        if sample.finish_reason == CUT:  # stopped where its window fell below the threshold
            assert sample.completion_tokens < 160
    assert result.answer is None or result.answer in result.votes


def test_a_watched_batch_stopped_whole_is_billed_what_the_engine_prefilled(embedded):
    """Every sample stopped at its first token: each call still took the prompt on (computed
    or from its slot's KV cache), and the bill says so as the engine's own counters do."""
    messages = (Message("user", "Name three prime numbers below twenty, with a reason each."),)
    request = Request(messages=messages, n=3)
    params = SamplingParams(max_tokens=32, top_logprobs=20, seed=11, temperature=0.7)
    before = embedded.engine_stats()
    generation = embedded.generate_watched(request, params, lambda index, token: True)
    after = embedded.engine_stats()
    assert [c.finish_reason for c in generation.completions] == [CUT] * 3
    prompt = len(embedded.tokenize(embedded.chat_prompt(messages)))
    assert generation.prompt_length == prompt  # the tokenized prompt
    assert generation.prompt_tokens == 3 * prompt  # once per call: none is free
    prefilled = after["prompt_tokens_total"] - before["prompt_tokens_total"]
    cached = after["prompt_tokens_cached_total"] - before["prompt_tokens_cached_total"]
    assert generation.prompt_tokens - generation.cached_prompt_tokens == prefilled
    assert generation.cached_prompt_tokens == cached
