"""st_bon: the early self-estimate (c, the window, the most consistent prefix), that only the
winner is finished and the others are billed but truncated — on a scripted backend — and once
on the real model."""

from __future__ import annotations

import pytest

from thinktime import solve
from thinktime.backends.fake import FakeBackend, tokenize
from thinktime.errors import ThinktimeError
from thinktime.strategies import get_strategy
from thinktime.strategies.st_bon import (
    _confidences,
    buffer_window,
    earliest_estimation_time,
    self_estimate,
    text_distance,
)
from thinktime.types import CUT, Completion, TokenLogprob

EASY = "Tom has 3 apples and buys 2 more apples. How many apples does Tom have now?"
FULL = " and so on" * 20  # what a sample would go on to say: 60 more tokens


def words(text: str) -> list[str]:
    return tokenize(text)


def test_c_is_the_first_step_at_which_every_prefix_differs():
    same_start = [words("3 * 12 = 36"), words("3 * 12 = 35"), words("3 * 4 = 12")]
    assert earliest_estimation_time(same_start) == 5  # two share "3 * 12 =", four tokens
    # a sample that ended sets c where it ended (the paper's EOS rule)
    assert earliest_estimation_time([words("a b c d"), words("a b")]) == 2
    # identical samples never differ: c is where the shortest ends
    assert earliest_estimation_time([words("a b c")] * 3) == 3


def test_the_window_is_the_last_tau_steps_up_to_c_plus_tau():
    assert list(buffer_window(3, 1.0, 64)) == [4, 5, 6]
    assert list(buffer_window(3, 2.0, 64)) == [4, 5, 6, 7, 8, 9]
    assert list(buffer_window(3, 0.1, 64)) == [4]  # τ is at least one step
    assert list(buffer_window(3, 1.0, 4)) == [2, 3, 4]  # the samples stopped at 4 tokens


def test_the_prefix_most_consistent_with_the_others_is_chosen():
    prefixes = [
        words("We add 12 and 12 to get 24"),  # the outlier
        words("3 baskets of 12 apples is 36"),
        words("3 baskets hold 12 apples each, 36"),
        words("3 lots of 12 apples are 36"),
    ]
    estimate = self_estimate(prefixes, tau=1.0, confidences=None)
    assert estimate.c == 3  # "3 baskets" is shared by two for two tokens
    assert list(estimate.window) == [4, 5, 6]
    # at step 4, sample 1 shares 3 of 5 distinct tokens with 2 and with 3, which share 2 of 6
    assert text_distance(prefixes[1][:4], prefixes[2][:4]) == pytest.approx(0.4)
    assert text_distance(prefixes[2][:4], prefixes[3][:4]) == pytest.approx(2 / 3)
    assert estimate.votes == (1, 1, 1) and estimate.winner == 1
    # the distance ignores case and spacing; disjoint prefixes are 1 apart
    assert text_distance(words("Apples  *  12"), words("apples * 12")) == 0.0
    assert text_distance(words("a b"), words("c d")) == 1.0


def test_by_confidence_the_sample_nearest_the_others_mean_confidence_wins():
    prefixes = [words("a b c d"), words("e f g h"), words("i j k l")]
    confidences = [[5.0] * 4, [1.0, 1.0, 1.2, 1.2], [1.5] * 4]
    estimate = self_estimate(prefixes, tau=1.0, confidences=confidences)
    assert list(estimate.window) == [2]  # c = 1, τ = 1
    assert estimate.winner == 2  # 1.5 is nearest both 5.0 and 1.0


def test_votes_tie_to_the_earliest_sample():
    prefixes = [words("a b"), words("c d")]  # two samples: equally consistent
    assert self_estimate(prefixes, tau=1.0, confidences=None).winner == 0


def _script(request, index):
    """Three samples; the first two agree early on, the third does not. A continuation of
    the chosen prefix finishes it."""
    if request.prompt is not None and not request.prompt.endswith("assistant: "):
        return " and so \\boxed{36}"
    starts = ["3 * 12 = 36 apples", "3 * 12 = 36 in all", "We add 12 and 12 to get 24"]
    return starts[index % 3] + FULL


def test_only_the_chosen_sample_is_finished_and_the_others_are_truncated():
    backend = FakeBackend(_script)
    result = solve("?", backend=backend, strategy="st_bon", n=3, early_tokens=8)
    first, second = backend.calls
    [early] = first[0]
    assert early.n == 3 and first[1].max_tokens == 8
    [rest] = second[0]
    assert rest.n == 1 and rest.prompt.endswith("assistant: 3 * 12 = 36 apples and so")
    assert result.chosen == 0 and result.answer == "36"
    assert [s.finish_reason for s in result.samples] == ["stop", CUT, CUT]
    assert [s.answer for s in result.samples] == ["36", None, None]
    assert result.details["truncated"] == 2 and result.details["c"] == 6


def test_truncated_samples_are_billed_and_the_whole_costs_less_than_n_full_samples():
    st_bon = solve("?", backend=FakeBackend(_script), strategy="st_bon", n=3, early_tokens=8)
    full = solve("?", backend=FakeBackend(_script), strategy="self_consistency", n=3)
    early = 3 * 8
    finished = len(tokenize(" and so \\boxed{36}"))
    assert st_bon.bill.completion_tokens == early + finished
    assert st_bon.details["early_tokens"] == early
    assert st_bon.bill.completion_tokens < full.bill.completion_tokens
    assert full.bill.completion_tokens == sum(len(tokenize(s.text)) for s in full.samples)


def test_a_winner_that_ended_early_is_not_continued():
    backend = FakeBackend(["3 * 12 = \\boxed{36}", "3 * 12 = 35 so \\boxed{35}", "no idea"])
    result = solve("?", backend=backend, strategy="st_bon", n=3, early_tokens=16)
    assert len(backend.calls) == 1
    assert result.answer is not None and result.samples[result.chosen].finish_reason == "stop"


def test_the_caller_max_tokens_caps_the_whole_sample():
    backend = FakeBackend(_script)
    result = solve("?", backend=backend, strategy="st_bon", n=3, early_tokens=8, max_tokens=12)
    assert backend.calls[1][1].max_tokens == 4  # 12 − the 8 already decoded
    assert result.samples[result.chosen].completion_tokens <= 12


def test_the_token_budget_binds():
    result = solve(
        "?", backend=FakeBackend(_script), strategy="st_bon", n=3, early_tokens=8,
        budget={"max_completion_tokens": 26},
    )  # fmt: skip
    assert result.bill.completion_tokens <= 26 and result.budget_limited


def test_confidence_reads_each_tokens_logprobs_and_is_refused_without_them():
    sure = lambda token: 3.0 if token.strip() in {"3", "*", "12", "="} else 1.0  # noqa: E731
    backend = FakeBackend(_script, confidence=sure)
    result = solve("?", backend=backend, strategy="st_bon", n=3, early_tokens=8,
                   measure="confidence")  # fmt: skip
    assert backend.calls[0][1].top_logprobs == 20
    assert result.details["measure"] == "confidence" and result.chosen in (0, 1)
    bare = Completion("a b", "length", 2)
    with pytest.raises(ThinktimeError, match="measure=text"):
        _confidences([bare], "fake")
    one = Completion("a", "length", 1, (TokenLogprob("a", -0.1, (("a", -0.1),)),))
    with pytest.raises(ThinktimeError, match="top-k logprobs"):
        _confidences([one], "fake")


def test_the_spec_declares_its_samples():
    spec = get_strategy("st_bon")
    params = spec.parse_params({"n": 5})
    assert spec.samples(params) == 5 and spec.samples_drawn(params) == 6
    assert spec.continues_text and not spec.uses_verifier
    with pytest.raises(ThinktimeError, match="n"):
        spec.parse_params({"n": 1})


@pytest.mark.integration
def test_st_bon_on_the_real_model(embedded):
    for measure in ("text", "confidence"):
        result = solve(
            EASY, backend=embedded, strategy="st_bon", n=3, early_tokens=8, max_tokens=48,
            measure=measure, seed=3,
        )  # fmt: skip
        assert result.details["c"] >= 1 and result.details["truncated"] == 2
        assert result.bill.samples in (3, 4)  # the early three, and the winner's continuation
        # the truncated two are billed (8 tokens each at most), yet the whole costs less
        # than three full samples would at this cap
        assert result.details["early_tokens"] <= 3 * 8
        assert result.bill.completion_tokens <= 2 * 8 + 48 < 3 * 48
        assert [s.finish_reason for s in result.samples].count(CUT) == 2
