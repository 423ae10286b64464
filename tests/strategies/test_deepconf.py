"""DeepConf and confidence-weighted voting: the confidence arithmetic, the online stopping logic
on a scripted backend, the replay being the live rule, and the store keeping confidences."""

from __future__ import annotations

import math

import pytest

from thinktime import solve
from thinktime.answers.confidence import (
    first_cut,
    group_confidences,
    keep_confident,
    summarize,
    threshold,
    token_confidence,
    token_self_certainty,
    trace_confidence,
    unpack,
)
from thinktime.backends.fake import FakeBackend, tokenize
from thinktime.bench.replay import Pool, load_pools, replay_deepconf
from thinktime.bench.runner import run_sweep
from thinktime.bench.store import Store
from thinktime.errors import ThinktimeError
from thinktime.strategies.deepconf import DeepConfParams
from thinktime.tasks import Problem, Task
from thinktime.types import CUT, TokenLogprob


def _token(*logprobs: float) -> TokenLogprob:
    return TokenLogprob("t", logprobs[0], tuple(("t", v) for v in logprobs))


# --- the arithmetic ------------------------------------------------------------------------


def test_token_confidence_is_minus_the_mean_of_the_top_k():
    assert token_confidence(_token(-0.5, -1.5, -4.0)) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="top_logprobs >= 2"):  # no alternatives: refused
        token_confidence(TokenLogprob("t", -0.3))


def test_self_certainty_is_kl_from_uniform_over_the_renormalised_top_k():
    flat = _token(-1.0, -1.0, -1.0)
    assert token_self_certainty(flat) == pytest.approx(0.0, abs=1e-12)
    peaked = _token(math.log(0.9), math.log(0.05), math.log(0.05))
    expected = sum((1 / 3) * math.log((1 / 3) / p) for p in (0.9, 0.05, 0.05))
    assert token_self_certainty(peaked) == pytest.approx(expected)


def test_groups_slide_and_the_summaries_read_them():
    per_token = [4.0, 4.0, 1.0, 1.0, 4.0, 4.0, 4.0, 4.0, 4.0, 2.0]
    assert group_confidences(per_token, 2) == [4.0, 2.5, 1.0, 2.5, 4.0, 4.0, 4.0, 4.0, 3.0]
    assert group_confidences([3.0, 1.0], 8) == [2.0]  # shorter than a window: one group
    c = summarize(per_token, window=2, tail=2)
    assert c.lowest_group == 1.0 and c.tail == 3.0 and c.mean == pytest.approx(3.2)
    assert c.bottom10 == 1.0  # ceil(10% of 9 groups) = 1 group
    assert summarize([1.0] * 5 + [9.0] * 25, window=1).bottom10 == pytest.approx(1.0)


def test_threshold_direction_keep_90_is_the_10th_percentile():
    warm = [5.0, 1.0, 3.0, 4.0, 2.0]
    assert threshold(warm, keep=90) == pytest.approx(1.4)  # DeepConf-high: cut few
    assert threshold(warm, keep=10) == pytest.approx(4.6)  # DeepConf-low: cut most
    assert threshold(warm, keep=100) == 1.0 and threshold([7.0], keep=10) == 7.0
    # the warm-up traces themselves: keep% of them clear their own threshold
    many = [float(i) for i in range(1, 101)]
    assert sum(v >= threshold(many, keep=90) for v in many) == 90


def test_first_cut_fires_once_a_full_window_is_below():
    assert first_cut([5.0, 1.0, 5.0, 1.0], window=2, cut_below=2.9) is None  # means are 3
    assert first_cut([1.0], window=2, cut_below=5.0) is None  # never a full window
    assert first_cut([5.0, 5.0, 1.0, 1.0], window=2, cut_below=2.9) == 4


def test_keep_confident_keeps_those_at_or_above_the_percentile_in_order():
    assert keep_confident([1.0, 9.0, 5.0, 7.0], keep=50) == [1, 3]
    assert keep_confident([1.0, 2.0], keep=10) == [1]
    assert keep_confident([3.0, 3.0, 1.0], keep=34) == [0, 1]  # ties at the threshold stay
    # the offline filter uses the online threshold: keep=90 of 16 distinct scores keeps 14
    # (the 10th percentile falls between the 2nd and 3rd lowest), not ⌈0.9 · 16⌉ = 15
    scores = [float(v) for v in range(16)]
    assert len(keep_confident(scores, keep=90)) == 14
    assert keep_confident(scores, keep=10) == [14, 15]


# --- the strategy on a scripted backend ----------------------------------------------------

SURE, UNSURE = 5.0, 0.5


def _confidence(token: str) -> float:
    return UNSURE if "maybe" in token else SURE


def _deepconf(script, **params):
    backend = FakeBackend(script, confidence=_confidence)
    result = solve("q?", backend=backend, strategy="deepconf", params=params)
    return result, backend


def test_online_cuts_an_unsure_trace_bills_its_tokens_and_leaves_it_out_of_the_vote():
    script = [
        "so \\boxed{4}", "hm \\boxed{6}",  # warm-up: sure, they disagree
        "maybe maybe maybe maybe maybe \\boxed{5}", "so \\boxed{4}",  # round 1: one unsure
    ]  # fmt: skip
    result, backend = _deepconf(script, n=4, warmup=2, batch=2, window=2, consensus=1.0)
    assert result.answer == "4" and result.details["cut"] == 1
    cut = [s for s in result.samples if s.finish_reason == CUT]
    assert len(cut) == 1 and cut[0].completion_tokens == 2  # stopped after one full window
    assert result.bill.samples_cut == 1 and result.bill.samples == 4
    whole = sum(len(tokenize(t)) for t in (script[0], script[1], script[3]))
    assert result.bill.completion_tokens == whole + 2  # the cut trace's 2 tokens were spent
    assert "5" not in result.votes  # a cut trace does not vote
    assert [r.n for requests, _ in backend.calls for r in requests] == [2, 2]
    assert all(params.top_logprobs == 20 for _, params in backend.calls)


def test_online_stops_sampling_at_consensus():
    result, backend = _deepconf(["so \\boxed{4}"], n=16, warmup=4, batch=4)
    assert result.answer == "4" and result.details["traces"] == 4  # the warm-up agreed
    assert len(backend.calls) == 1 and result.bill.samples == 4


def test_online_draws_until_n_without_consensus():
    script = ["so \\boxed{1}", "so \\boxed{2}", "so \\boxed{3}"]
    result, _ = _deepconf(script, n=10, warmup=4, batch=4)
    assert result.details["traces"] == 10 and result.details["cut"] == 0


def test_offline_keeps_the_most_confident_and_weights_their_votes():
    script = ["maybe \\boxed{7}", "maybe \\boxed{7}", "maybe \\boxed{7}", "so sure \\boxed{8}"]
    plain = solve("q?", backend=FakeBackend(script, confidence=_confidence),
                  strategy="self_consistency", n=4)  # fmt: skip
    assert plain.answer == "7"
    result, _ = _deepconf(script, mode="offline", n=4, keep=25, window=2)
    assert result.answer == "8" and result.details["kept"] == 1
    assert len(result.samples) == 4  # every drawn trace is shown and stored
    assert all(s.finish_reason != CUT for s in result.samples)


def test_weight_confidence_lets_sure_traces_outvote_unsure_ones():
    unsure = "maybe maybe maybe \\boxed{7}"  # confidence (3 × 0.5 + 5) / 4 = 1.6 each
    script = [unsure, unsure, "so sure \\boxed{8}"]
    backend = FakeBackend(script, confidence=_confidence)
    plain = solve("q?", backend=backend, strategy="self_consistency", n=3)
    weighted = solve("q?", backend=backend, strategy="self_consistency", n=3,
                     params={"weight": "confidence"})  # fmt: skip
    assert plain.answer == "7" and weighted.answer == "8"
    assert weighted.votes["8"] > weighted.votes["7"]
    adaptive = solve("q?", backend=backend, strategy="adaptive_consistency",
                     params={"weight": "confidence", "max_n": 3, "batch": 3})  # fmt: skip
    assert adaptive.answer == "8"


def test_replayed_adaptive_weighs_its_final_vote_like_the_live_strategy():
    from thinktime.bench.replay import replay_adaptive
    from thinktime.strategies.adaptive_consistency import AdaptiveParams

    # two unsure traces say 7, one sure trace says 8; no early stop (batch = max_n = 3)
    unsure, sure = summarize([SURE, UNSURE, UNSURE, UNSURE]), summarize([SURE] * 4)
    pool = Pool.of(
        [("7", False, 4), ("7", False, 4), ("8", True, 4)], "q/0", [unsure, unsure, sure]
    )
    plain = AdaptiveParams(max_n=3, batch=3)
    weighted = AdaptiveParams(max_n=3, batch=3, weight="confidence")
    assert replay_adaptive(pool, plain) == (False, 12, 3)
    assert replay_adaptive(pool, weighted) == (True, 12, 3)  # the sure trace outweighs the pair


def test_self_certainty_best_of_n_picks_the_peaked_trace_and_needs_no_call():
    script = ["maybe maybe \\boxed{24}", "so \\boxed{25}", "maybe \\boxed{26}"]
    backend = FakeBackend(script, confidence=_confidence)
    result = solve("5*5?", backend=backend, strategy="best_of_n", n=3, verifier="self_certainty")
    assert result.answer == "25" and result.bill.verifier_tokens == 0 and result.bill.calls == 1
    assert result.details["scores"][1] == max(result.details["scores"])


class _NoAlternatives(FakeBackend):
    """A server that ignores top_logprobs: tokens come back without alternatives."""

    def generate(self, requests, params):
        return super().generate(requests, params.with_(top_logprobs=0, logprobs=False))


@pytest.mark.parametrize(
    ("strategy", "params", "verifier"),
    [
        ("deepconf", {}, None),
        ("deepconf", {"mode": "offline"}, None),
        ("self_consistency", {"weight": "confidence"}, None),
        ("best_of_n", {}, "self_certainty"),
    ],
)
def test_a_backend_without_top_logprobs_is_one_clear_error(strategy, params, verifier):
    with pytest.raises(ThinktimeError, match="top-k logprobs"):
        solve("q?", backend=_NoAlternatives(), strategy=strategy, params=params, verifier=verifier)


class _WholeOnly(FakeBackend):
    """An engine that cannot stop one sample (no `generate_watched`)."""

    generate_watched = None  # type: ignore[assignment]


def test_an_engine_that_cannot_stop_one_sample_is_cut_afterwards_and_billed_whole():
    script = ["so \\boxed{4}", "hm \\boxed{6}", "maybe maybe maybe \\boxed{5}", "so \\boxed{4}"]
    backend = _WholeOnly(script, confidence=_confidence)
    result = solve("q?", backend=backend, strategy="deepconf",
                   params={"n": 4, "warmup": 2, "batch": 2, "window": 2})  # fmt: skip
    cut = [s for s in result.samples if s.finish_reason == CUT]
    assert len(cut) == 1 and cut[0].completion_tokens == len(tokenize(script[2]))
    assert result.answer == "4" and result.bill.samples_cut == 1


# --- replay = the live rule; the store keeps confidences -----------------------------------

TRACES = [  # (text, correct?) in drawn order: a mix of sure and unsure, right and wrong
    ("so \\boxed{4}", True), ("hm \\boxed{6}", False), ("maybe maybe maybe \\boxed{6}", False),
    ("so so \\boxed{4}", True), ("maybe \\boxed{4} maybe maybe", True), ("ok \\boxed{6}", False),
    ("so \\boxed{4}", True), ("maybe maybe \\boxed{9}", False),
]  # fmt: skip


@pytest.mark.parametrize(
    "params",
    [
        DeepConfParams(n=8, warmup=2, batch=2, window=2, consensus=1.0),
        DeepConfParams(n=8, warmup=3, batch=1, window=2, keep=90),
        DeepConfParams(n=8, warmup=2, batch=3, window=3, consensus=0.7),
        DeepConfParams(mode="offline", n=8, keep=50, window=2),
    ],
)
def test_replay_on_a_stored_pool_is_the_live_strategy(tmp_path, params):
    script = [text for text, _ in TRACES]
    live = solve("q?", backend=FakeBackend(script, confidence=_confidence), strategy="deepconf",
                 params=params.model_dump())  # fmt: skip
    # the same eight traces, drawn whole with top-k logprobs and stored as a bench pool
    task = Task("toy", [Problem("toy/0", "q?", "4")])
    store = Store(tmp_path / "pool.db")
    pool_backend = FakeBackend(script, confidence=_confidence)
    run_sweep(task, {"fake": pool_backend}, ["self_consistency:n=8,top_logprobs=20"], store)
    [pool] = load_pools(store, "fake", "self_consistency:n=8,top_logprobs=20")
    assert pool.correct == tuple(c for _, c in TRACES) and len(pool.confidences) == 8
    hit, tokens, traces, cut = replay_deepconf(pool, params)
    assert hit == (live.answer == "4")
    assert tokens == live.bill.completion_tokens
    assert traces == live.details["traces"]
    if params.mode == "online":
        assert cut == live.details["cut"]


def test_the_store_keeps_each_tokens_confidence(tmp_path):
    task = Task("toy", [Problem("toy/0", "q?", "4")])
    store = Store(tmp_path / "pool.db")
    script = ["maybe \\boxed{4}", "so so \\boxed{5}"]
    run_sweep(task, {"fake": FakeBackend(script, confidence=_confidence)},
              ["self_consistency:n=2,top_logprobs=20"], store)  # fmt: skip
    rows = store.samples(store.results()[0]["id"], confidences=True)
    assert unpack(rows[0]["token_confidences"]) == pytest.approx((UNSURE, SURE))
    assert rows[1]["conf_mean"] == pytest.approx(SURE) and rows[1]["self_certainty"] > 0
    expected = trace_confidence(
        [FakeBackend(confidence=_confidence)._logprob(t, 20) for t in tokenize(script[0])]
    )
    assert rows[0]["conf_lowest_group"] == pytest.approx(expected.lowest_group)
    # a pool drawn without logprobs stores none, and replaying it says what to do
    run_sweep(task, {"fake": FakeBackend(script)}, ["self_consistency:n=2"], store)
    [plain] = load_pools(store, "fake", "self_consistency:n=2")
    assert plain.confidences == () and store.samples(2, True)[0]["token_confidences"] is None
    assert "token_confidences" not in store.samples(1)[0]  # bytes only for replays
    with pytest.raises(ThinktimeError, match="top_logprobs=20"):
        replay_deepconf(plain, DeepConfParams())


def test_online_warm_up_traces_below_the_threshold_do_not_vote():
    # warm-up of 3: two half-sure traces say 7 (lowest group 2.75 each), one sure trace says 8
    # (5.0); keep=10 puts the threshold at 4.55, so only the sure one votes (the official
    # code's filter); with warmup_vote="all" the pair outweighs it (5.5 to 5.0)
    script = ["maybe so \\boxed{7}", "maybe so \\boxed{7}", "so sure \\boxed{8}"]
    above, _ = _deepconf(script, n=3, warmup=3, window=2, keep=10, warmup_vote="above")
    every, _ = _deepconf(script, n=3, warmup=3, window=2, keep=10)  # the default: all vote
    assert above.answer == "8" and every.answer == "7"
    assert above.details["cut"] == 0 and above.bill.samples_cut == 0  # nothing was stopped
    assert all(s.finish_reason != CUT for s in above.samples)  # stored as made


@pytest.mark.parametrize("warmup_vote", ["above", "all"])
def test_the_warm_up_vote_is_decided_once_however_many_rounds_follow(monkeypatch, warmup_vote):
    """`online_voters` reads the warm-up traces' summaries once per run, not once per round; the
    rounds still vote over every trace drawn so far (10 traces: the warm-up, then 3 rounds)."""
    from thinktime.strategies import deepconf

    calls = []
    real = deepconf.online_voters
    monkeypatch.setattr(deepconf, "online_voters",
                        lambda *a: calls.append(len(a[0])) or real(*a))  # fmt: skip
    script = ["so \\boxed{1}", "so \\boxed{2}", "maybe so \\boxed{3}"]
    result, backend = _deepconf(script, n=10, warmup=4, batch=2, window=2, keep=10,
                                warmup_vote=warmup_vote)  # fmt: skip
    assert result.details["traces"] == 10 and len(backend.calls) == 4
    assert calls == [4, 10]  # the warm-up's decision in run_online, the final vote's


def test_replay_pool_of_hand_made_confidences():
    sure, unsure = summarize([SURE] * 4), summarize([SURE, UNSURE, UNSURE, UNSURE])
    pool = Pool.of(
        [("4", True, 4), ("6", False, 4), ("5", False, 4), ("5", False, 4), ("4", True, 4)],
        "q/0",
        [sure, sure, unsure, unsure, sure],
    )
    # the warm-up's two sure traces disagree; threshold = their lowest group (5.0); the unsure
    # ones are cut after 2 tokens (window [5.0, 0.5]); the last sure one votes 4 in
    hit, tokens, traces, cut = replay_deepconf(
        pool, DeepConfParams(n=5, warmup=2, batch=1, window=2, consensus=1.0)
    )
    assert (hit, tokens, traces, cut) == (True, 4 + 4 + 2 + 2 + 4, 5, 2)


def test_the_viewer_shows_each_samples_confidence(tmp_path):
    from fastapi.testclient import TestClient

    from thinktime.view.app import create_view_app

    task = Task("toy", [Problem("toy/0", "q?", "4")])
    store = Store(tmp_path / "conf.db")
    run_sweep(task, {"fake": FakeBackend(["maybe \\boxed{4}", "so \\boxed{4}"],
                                         confidence=_confidence)},
              ["self_consistency:n=2,top_logprobs=20", "cot"], store)  # fmt: skip
    store.close()
    client = TestClient(create_view_app([tmp_path / "conf.db"], warm=False))
    answers = client.get("/api/stores/conf/questions/toy/0").json()["answers"]
    by_config = {a["config"]: a for a in answers}
    pooled = by_config["self_consistency:n=2,top_logprobs=20"]["samples"]
    assert [s["confidence"] for s in pooled] == pytest.approx([(UNSURE + SURE) / 2, SURE])
    assert by_config["cot"]["samples"][0]["confidence"] is None  # drawn without logprobs


def test_a_bench_sweep_stores_every_trace_of_online_deepconf_cut_ones_included(tmp_path):
    task = Task("toy", [Problem(f"toy/{i}", "q?", "4") for i in range(3)])
    store = Store(tmp_path / "online.db")
    script = [text for text, _ in TRACES]
    config = "deepconf:n=8,warmup=2,batch=2,window=2,consensus=1.0"
    run_sweep(task, {"fake": FakeBackend(script, confidence=_confidence)}, [config], store)
    for row in store.results():
        samples = store.samples(row["id"])
        assert len(samples) == 8 and row["completion_tokens"] == sum(
            s["completion_tokens"] for s in samples
        )
        cut = [s for s in samples if s["finish_reason"] == CUT]
        assert cut and all(s["conf_mean"] is not None for s in samples)


def test_a_cut_sample_is_truncated_never_correct():
    from thinktime.bench.grading import diagnose

    assert diagnose("so the answer is \\boxed{4}", "4", CUT, 1.0) == "truncated"
    assert diagnose("", None, CUT, 0.0) == "empty"


def test_a_watched_call_is_one_request_with_top_logprobs():
    from thinktime.compute.ledger import Ledger
    from thinktime.sampling import SamplingParams
    from thinktime.types import Message, Request

    ledger = Ledger(FakeBackend())
    request = Request(messages=(Message("user", "q?"),), n=2)
    with pytest.raises(ThinktimeError, match="one request drawn with top_logprobs"):
        ledger.generate([request], SamplingParams(), watch=lambda i, t: False)
    with pytest.raises(ThinktimeError, match="one request"):
        ledger.generate([request] * 2, SamplingParams(top_logprobs=5), watch=lambda i, t: False)


def test_one_alternative_per_token_is_not_a_confidence():
    """With k = 1 the 'mean of the top-k' is the sampled token's logprob: surprisal, whose
    direction is the opposite of confidence. DeepConf refuses k < 2; no summary is made."""
    import pydantic

    from thinktime.answers.confidence import token_confidence
    from thinktime.strategies.base import as_sample
    from thinktime.strategies.deepconf import DeepConfParams
    from thinktime.types import Completion, TokenLogprob

    with pytest.raises(pydantic.ValidationError, match="top_logprobs"):
        DeepConfParams(top_logprobs=1)
    lone = TokenLogprob("4", -0.2, (("4", -0.2),))
    with pytest.raises(ValueError, match="top_logprobs >= 2"):
        token_confidence(lone)
    completion = Completion("\\boxed{4}", "stop", 1, logprobs=(lone,))
    assert as_sample(completion).confidence is None
    pair = TokenLogprob("4", -0.2, (("4", -0.2), ("5", -3.0)))
    assert token_confidence(pair) == pytest.approx(1.6)


# --- the bill of a watched draw: every sample's call prefills the prompt ------------------


def test_a_watched_batch_whose_every_sample_is_stopped_is_billed_n_prefills():
    """Each watched sample is a call of its own: stopped at its first token, it still
    processed the prompt, so a batch of n stopped samples is billed n × the prompt."""
    from thinktime.backends.fake import render
    from thinktime.compute.ledger import Ledger
    from thinktime.sampling import SamplingParams
    from thinktime.types import Message, Request

    ledger = Ledger(FakeBackend(["maybe maybe maybe \\boxed{5}"]))
    request = Request(messages=(Message("user", "What is two and three?"),), n=4)
    [generation] = ledger.generate(
        [request], SamplingParams(top_logprobs=20), watch=lambda i, t: True
    )
    prompt = len(tokenize(render(request)))
    assert all(c.finish_reason == CUT and c.completion_tokens == 1 for c in generation.completions)
    bill = ledger.bill()
    assert (bill.samples_cut, bill.completion_tokens) == (4, 4)
    assert bill.prompt_tokens == 4 * prompt  # not 0: each stopped call prefilled the prompt


def test_online_deepconf_bills_one_prefill_per_watched_trace():
    """The warm-up is one call (one prefill); then every watched trace is a call of its own."""
    from thinktime.backends.fake import render

    script = ["so \\boxed{4}", "hm \\boxed{6}"] + ["maybe maybe maybe \\boxed{5}"] * 6
    result, backend = _deepconf(script, n=8, warmup=2, batch=3, window=2, consensus=1.0)
    assert result.details["traces"] == 8 and result.details["cut"] == 6  # every watched one
    prompt = len(tokenize(render(backend.calls[0][0][0])))
    assert result.bill.prompt_tokens == (1 + 6) * prompt
