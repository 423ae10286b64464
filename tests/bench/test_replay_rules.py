"""Every replay rule on the same pools, each against the reference question by question: the
maj@k curve, Borda and whole-text voting, what each rule spends (completion tokens, prefills,
the ratio with prompt tokens), and `FAMILY:NAME=VALUE` rules with their refusals."""

from __future__ import annotations

import pytest

from thinktime.answers.confidence import summarize
from thinktime.bench.replay import Pool, Replayed
from thinktime.bench.rules import RULES, parse_rule, replay_table
from thinktime.bench.selection import borda_weights, clusters, largest_cluster
from thinktime.errors import ThinktimeError


def _pool(index: int) -> Pool:
    """Eight samples: the right answer "1" in five, the wrong "2" in three, sure of the wrong
    ones on odd questions (so confidence-weighted votes and best-of-n differ from maj@n)."""
    answers = ["1", "2", "1", "2", "1", "1", "2", "1"]
    sure = [0.2 if (a == "2") == bool(index % 2) else 5.0 for a in answers]
    confidences = [summarize([c] * 40, c) for c in sure]
    return Pool.of([(a, a == "1", 10 + i) for i, a in enumerate(answers)], f"q/{index}",
                   confidences, prompt_tokens=100, texts=[f"so {a}" for a in answers])  # fmt: skip


def test_every_rule_is_replayed_against_the_reference_on_the_same_questions():
    pools = [_pool(i) for i in range(20)]
    rows = {row.rule: row for row in replay_table(pools)}
    # the maj@k curve runs below n = 8; maj@8 and up would be maj@n again
    curve = {"maj@1", "maj@2", "maj@4"}
    assert set(rows) == {name for name in RULES if not name.startswith("maj@")} | curve | {"maj@n"}
    assert all(row.n == 20 for row in rows.values())
    reference = rows["maj@n"]
    assert reference.accuracy == 1.0 and reference.token_ratio == 1.0
    assert reference.versus.difference == 0.0 and reference.versus.p_value == 1.0
    assert rows["maj@1"].token_ratio < 0.2 and rows["maj@4"].samples == 4
    best = rows["best:self_certainty"]  # on odd questions the surest sample is wrong
    assert best.accuracy == 0.5 and best.versus.a_wins == 10 and best.versus.b_wins == 0


def test_a_pool_without_confidences_skips_the_rules_that_read_them():
    pools = [Pool.of([("1", True, 5), ("1", True, 6), ("2", False, 4)], f"q/{i}") for i in range(4)]
    rows = {row.rule for row in replay_table(pools)}
    assert "maj@n" in rows and "adaptive:beta" in rows
    assert not any(
        r.startswith(("weighted:", "deepconf", "best:", "borda:", "whole-")) for r in rows
    )


def test_a_plugin_rule_is_replayed_like_a_built_in():
    RULES["first-answer"] = lambda pool: Replayed(pool.correct[0], pool.tokens[0], 1, 1)
    try:
        pools = [_pool(i) for i in range(6)]
        [row] = [r for r in replay_table(pools) if r.rule == "first-answer"]
        assert row.accuracy == 1.0 and row.tokens == 10 and row.prefills == 1
    finally:
        del RULES["first-answer"]


# --- Borda voting (Kang et al. 2025) ---------------------------------------------------------


def test_borda_weights_are_the_rank_from_the_bottom_to_the_power_p():
    assert borda_weights([0.1, 0.9, 0.5, 0.7], p=1.0) == [1.0, 4.0, 2.0, 3.0]
    assert borda_weights([0.1, 0.9, 0.5, 0.7], p=0.5) == pytest.approx([1.0, 2.0, 2**0.5, 3**0.5])
    assert borda_weights([0.3, 0.3], p=2.0) == [4.0, 1.0]  # a tie keeps the drawn order
    assert borda_weights([0.2, 0.8, 0.5], p=0.0) == [1.0, 1.0, 1.0]  # p = 0: plain majority


def _certain(*pairs: tuple[str, float]) -> Pool:
    """A pool of (answer, self-certainty) samples; "7" is the right answer."""
    confidences = [summarize([1.0] * 8, certainty) for _, certainty in pairs]
    return Pool.of([(a, a == "7", 10) for a, _ in pairs], "q/0", confidences)


def test_borda_differs_from_plain_majority_and_from_best_of_n():
    # "5" has the most votes (3) but the least certain ones; "9" has the single surest sample;
    # "7" has two samples ranked 2nd and 3rd. Ranks 1..6 → votes 6..1 at p = 1
    pool = _certain(("9", 0.99), ("7", 0.95), ("7", 0.9), ("5", 0.3), ("5", 0.2), ("5", 0.1))
    assert RULES["maj@n"](pool).correct is False  # "5": 3 votes of 6
    assert RULES["best:self_certainty"](pool).correct is False  # "9": the surest
    # p = 1: "7" 5 + 4 = 9, "5" 3 + 2 + 1 = 6, "9" 6; p = 0.5: "7" 4.24, "5" 4.15, "9" 2.45
    assert RULES["borda:self_certainty"](pool).correct is True
    assert parse_rule("borda:p=1")(pool).correct is True  # type: ignore[union-attr]
    assert parse_rule("borda:p=0")(pool).correct is False  # type: ignore[union-attr]  # majority
    assert parse_rule("borda:p=8")(pool).correct is False  # type: ignore[union-attr]  # the surest


# --- whole-text voting as optillm does it ----------------------------------------------------


def test_whole_texts_cluster_around_their_first_text_and_the_largest_wins():
    texts = [
        "The answer is 12.",  # its own cluster: the others are far from it
        "Adding 3 and 4 gives 7, so the answer is 7.",
        "Adding 3 and 4 gives 7, so the answer is 7!",  # ≥ 0.8 similar to the second
        "Adding 3 and 4 gives 7; so the answer is 7.",
    ]
    assert clusters(texts) == [[0], [1, 2, 3]]
    assert largest_cluster(texts) == 1
    assert clusters(texts, threshold=1.0) == [[0], [1], [2], [3]]
    assert largest_cluster(texts, threshold=1.0) == 0  # all of size one: the first opened wins
    pool = Pool.of([("12", False, 5), ("7", True, 9), ("7", True, 9), ("7", True, 9)],
                   texts=texts)  # fmt: skip
    assert RULES["whole-text"](pool) == Replayed(True, 32, 1, 4)
    assert parse_rule("whole-text:threshold=1.0")(pool).correct is False  # type: ignore[union-attr]


def test_whole_text_compares_texts_not_answers():
    # the same extracted answer, written two different ways: the texts do not cluster
    texts = ["so it is 7", "Seven, since 3 + 4 = 7, which we checked twice.", "it is 8", "it is 8"]
    pool = Pool.of([("7", True, 5), ("7", True, 5), ("8", False, 5), ("8", False, 5)],
                   texts=texts)  # fmt: skip
    assert RULES["maj@n"](pool).correct is True  # "7" was seen first in a 2–2 tie
    assert RULES["whole-text"](pool).correct is False  # the two "it is 8" texts cluster
    assert RULES["whole-text"](Pool.of([("7", True, 5)] * 2)) is None  # no texts stored


# --- what each rule spends: completion tokens, prefills, the ratio with the prompt -----------


def _stored(answers: str, certainty: list[float] | None = None) -> Pool:
    """A pool of 8 one-letter answers, 10 tokens each, its prompt 50 tokens long."""
    confidences = [summarize([c] * 10, c) for c in certainty] if certainty else ()
    return Pool.of([(a, a == "a", 10) for a in answers], "q/0", confidences, prompt_tokens=50)


def test_each_rule_pays_the_prefills_its_live_strategy_pays():
    pool = _stored("aaaaaaaa", [5.0] * 8)
    assert RULES["maj@4"](pool) == Replayed(True, 40, 1, 4)
    assert RULES["maj@n"](pool) == Replayed(True, 80, 1, 8)
    assert RULES["weighted:mean"](pool).prefills == 1  # type: ignore[union-attr]
    # adaptive: batches of 4; all agree, so it stops after one batch (one call)
    assert RULES["adaptive:beta"](pool) == Replayed(True, 40, 1, 4)
    assert parse_rule("adaptive:batch=2,rule=window,window=8")(pool) == Replayed(True, 80, 4, 8)
    # DeepConf offline: one call of n; online: the warm-up call, then one call per watched trace
    assert RULES["deepconf-low:offline"](pool).prefills == 1  # type: ignore[union-attr]
    split = _stored("abababab", [5.0] * 8)  # never unanimous: online draws all 8
    online = parse_rule("deepconf:warmup=2,batch=3,consensus=1.0,window=2")(split)
    assert online is not None and (online.samples, online.prefills) == (8, 1 + 6)


def test_the_ratio_with_prompt_tokens_counts_each_prefill():
    pools = [_stored("abababab", [5.0] * 8)]
    rows = {row.rule: row for row in replay_table(pools, rules={
        "maj@n": RULES["maj@n"], "maj@2": RULES["maj@2"],
        "online": parse_rule("deepconf:warmup=2,batch=3,consensus=1.0,window=2"),
    })}  # fmt: skip
    assert rows["maj@2"].token_ratio == 20 / 80
    assert rows["maj@2"].total_tokens == 20 + 50 and rows["maj@2"].total_token_ratio == 70 / 130
    online = rows["online"]  # every trace whole (all sure): 80 tokens, 7 prefills
    assert online.token_ratio == 1.0 and online.prefills == 7
    assert online.total_tokens == 80 + 7 * 50 and online.total_token_ratio == 430 / 130


# --- FAMILY:NAME=VALUE rules --------------------------------------------------------------------


def test_a_rule_spec_is_checked_by_the_strategys_own_parameters():
    pool = _stored("aaaabbbb", [5.0] * 8)
    assert parse_rule("maj:k=2")(pool) == Replayed(True, 20, 1, 2)
    assert parse_rule("maj:k=9")(pool) is None  # more than the pool holds
    assert parse_rule("maj@n") is RULES["maj@n"]  # a registered name
    bad = {
        "deepconf:keep=200": "keep: Input should be less than or equal to 100",
        "deepconf:windw=16": "windw: Extra inputs are not permitted",
        "adaptive:rule=gamma": "rule: Input should be 'beta' or 'window'",
        "adaptive:fast": "write adaptive:NAME=VALUE,… with NAME one of",
        "maj:k=0": "k: Input should be greater than or equal to 1",
        "borda:measure=loud": "measure: Input should be",
        "vote:k=3": "unknown replay rule 'vote:k=3'",
        "maj@99": "unknown replay rule 'maj@99'",
    }
    for spec, message in bad.items():
        with pytest.raises(ThinktimeError, match=r"^(bad|unknown) replay rule") as caught:
            parse_rule(spec)
        assert message in str(caught.value) and "\n" not in str(caught.value), spec


def test_a_size_left_out_of_a_spec_is_the_pools():
    pool = _stored("abababab")  # no consensus: adaptive draws until max_n
    every = parse_rule("adaptive:rule=window,window=8")(pool)
    four = parse_rule("adaptive:rule=window,window=8,max_n=4")(pool)
    assert every is not None and every.samples == 8
    assert four is not None and four.samples == 4
