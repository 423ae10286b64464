import threading

import pytest

from thinktime.backends.fake import FAKE_CARD, FakeBackend
from thinktime.compute.flops import attention_flops, generation_flops
from thinktime.compute.ledger import Ledger
from thinktime.compute.prices import Price, load_prices
from thinktime.errors import ThinktimeError
from thinktime.models.card import ModelCard
from thinktime.sampling import SamplingParams
from thinktime.types import Bill, Message, Request

CARD = ModelCard("m", "llama", 10, 8, 2, 4, 4, 1, 128)


def test_attention_term_by_hand():
    # positions 5 and 6: 4 · layers(2) · d_attn(4) · (5 + 6)
    assert attention_flops(CARD, start=5, count=2) == 4 * 2 * 4 * 11
    assert attention_flops(CARD, start=0, count=0) == 0


def test_generation_flops_by_hand():
    # prefill 3 prompt tokens: 2·8·3 + 4·2·4·(0+1+2) = 48 + 96
    # two samples of 2 tokens at positions 3,4: each 2·8·2 + 4·2·4·(3+4) = 32 + 224
    assert generation_flops(CARD, 3, 3, [2, 2]) == 144 + 2 * 256


def test_cached_prompt_costs_only_its_uncached_tail():
    # 1 of 3 prompt tokens computed (position 2): 2·8·1 + 4·2·4·2
    assert generation_flops(CARD, 3, 1, []) == 16 + 64


def test_prompt_processed_twice_counts_twice():
    assert generation_flops(CARD, 3, 6, []) == 2 * generation_flops(CARD, 3, 3, [])


def test_ledger_counts_roles_and_shared_prefill():
    backend = FakeBackend(["one two \\boxed{3}"])
    ledger = Ledger(backend, Price(prompt_usd_per_mtok=1e6, completion_usd_per_mtok=2e6))
    question = (Message("user", "a b c"),)
    ledger.generate([Request(messages=question, n=4)], SamplingParams())
    ledger.generate([Request(messages=question)], SamplingParams(), purpose="verify")
    bill = ledger.bill()
    prompt = 4  # "user: a b c" → 4 fake tokens
    assert bill.prompt_tokens == 2 * prompt  # the n=4 request's prompt counts once
    assert bill.completion_tokens == 5 * 3
    assert bill.reasoning_tokens == 4 * 2  # answer samples only, tokens before \boxed
    assert bill.verifier_tokens == prompt + 3
    assert (bill.samples, bill.calls) == (4, 2)
    assert bill.dollars == pytest.approx(
        bill.prompt_tokens * 1 + bill.completion_tokens * 2, rel=1e-6
    )
    expected = generation_flops(FAKE_CARD, prompt, prompt, [3] * 4) + generation_flops(
        FAKE_CARD, prompt, prompt, [3]
    )
    assert bill.flops == expected


def test_unknown_shape_makes_flops_unknown():
    ledger = Ledger(FakeBackend(card=None))
    ledger.generate([Request(prompt="x")], SamplingParams())
    assert ledger.bill().flops is None


def test_bill_addition():
    a = Bill(prompt_tokens=1, completion_tokens=2, flops=10, seconds=1.0)
    b = Bill(prompt_tokens=3, completion_tokens=4, flops=None, seconds=0.5)
    total = a + b
    assert (total.prompt_tokens, total.completion_tokens, total.seconds) == (4, 6, 1.5)
    assert total.flops is None
    assert total.total_tokens == 10


def test_price_table_user_override(tmp_path, monkeypatch):
    prices = tmp_path / "prices.toml"
    prices.write_text('[models."qwen2.5-coder-0.5b"]\nusd_per_hour = 3.6\n')
    monkeypatch.setenv("THINKTIME_PRICES", str(prices))
    price = load_prices()["qwen2.5-coder-0.5b"]
    assert price.dollars(0, 0, seconds=10) == pytest.approx(0.01)


def test_price_table_errors(tmp_path):
    with pytest.raises(ThinktimeError, match="not found"):
        load_prices(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[models.x]\nusd = 1\n")
    with pytest.raises(ThinktimeError, match="allowed keys"):
        load_prices(bad)


def test_each_engine_call_of_a_seeded_run_gets_its_own_seed():
    """Round 2 of a vote must draw new samples, not replay round 1 (same prompt, same seed)."""
    backend = FakeBackend(["\\boxed{1}"])
    ledger = Ledger(backend)
    question = (Message("user", "q"),)
    for _ in range(3):
        ledger.generate([Request(messages=question, n=4)], SamplingParams(seed=7))
    ledger.generate([Request(messages=question)], SamplingParams())  # unseeded stays unseeded
    seeds = [params.seed for _, params in backend.calls]
    assert seeds[0] == 7 and len(set(seeds[:3])) == 3 and seeds[3] is None


def test_the_seed_stride_is_the_backends_own():
    """The ledger spaces calls' seeds by what the backend declares, else by the wide default."""
    from thinktime.backends.base import DEFAULT_SEED_STRIDE, DerivesSeeds
    from thinktime.backends.llamacpp import LlamaCppBackend

    question = (Message("user", "q"),)

    def seeds(backend: FakeBackend) -> list[int | None]:
        ledger = Ledger(backend)
        for _ in range(3):
            ledger.generate([Request(messages=question, n=2)], SamplingParams(seed=7))
        return [params.seed for _, params in backend.calls]

    plain = FakeBackend()
    assert not isinstance(plain, DerivesSeeds)
    assert seeds(plain) == [7, 7 + DEFAULT_SEED_STRIDE, 7 + 2 * DEFAULT_SEED_STRIDE]
    declared = FakeBackend()
    declared.seed_stride = 10  # type: ignore[attr-defined]
    assert isinstance(declared, DerivesSeeds) and seeds(declared) == [7, 17, 27]
    # llama.cpp offsets chunk k of a call by k, so it declares a stride wider than any call's chunks
    assert LlamaCppBackend.seed_stride > 1_000


def test_a_cancelled_call_marks_the_answer_cut():
    cancel = threading.Event()
    cancel.set()
    ledger = Ledger(FakeBackend(["\\boxed{5}"]), cancel=cancel)
    ledger.generate([Request(messages=(Message("user", "?"),))], SamplingParams())
    assert ledger.limited
