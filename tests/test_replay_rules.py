"""Every replay rule on the same pools, each against the reference question by question."""

from __future__ import annotations

from thinktime.answers.confidence import summarize
from thinktime.bench.replay import Pool
from thinktime.bench.rules import RULES, replay_table


def _pool(index: int) -> Pool:
    """Eight samples: the right answer "1" in five, the wrong "2" in three, sure of the wrong
    ones on odd questions (so confidence-weighted votes and best-of-n differ from maj@n)."""
    answers = ["1", "2", "1", "2", "1", "1", "2", "1"]
    sure = [0.2 if (a == "2") == bool(index % 2) else 5.0 for a in answers]
    confidences = [summarize([c] * 40, c) for c in sure]
    return Pool.of([(a, a == "1", 10 + i) for i, a in enumerate(answers)], f"q/{index}",
                   confidences)  # fmt: skip


def test_every_rule_is_replayed_against_the_reference_on_the_same_questions():
    pools = [_pool(i) for i in range(20)]
    rows = {row.rule: row for row in replay_table(pools)}
    assert set(rows) == set(RULES)
    assert all(row.n == 20 for row in rows.values())
    reference = rows["maj@n"]
    assert reference.accuracy == 1.0 and reference.token_ratio == 1.0
    assert reference.versus.difference == 0.0 and reference.versus.p_value == 1.0
    assert rows["maj@1"].token_ratio < 0.2
    best = rows["best:self_certainty"]  # on odd questions the surest sample is wrong
    assert best.accuracy == 0.5 and best.versus.a_wins == 10 and best.versus.b_wins == 0


def test_a_pool_without_confidences_skips_the_rules_that_read_them():
    pools = [Pool.of([("1", True, 5), ("1", True, 6), ("2", False, 4)], f"q/{i}") for i in range(4)]
    rows = {row.rule for row in replay_table(pools)}
    assert "maj@n" in rows and "adaptive:beta" in rows
    assert not any(r.startswith(("weighted:", "deepconf", "best:")) for r in rows)


def test_a_plugin_rule_is_replayed_like_a_built_in():
    RULES["first-answer"] = lambda pool: (pool.correct[0], pool.tokens[0])
    try:
        pools = [_pool(i) for i in range(6)]
        [row] = [r for r in replay_table(pools) if r.rule == "first-answer"]
        assert row.accuracy == 1.0 and row.tokens == 10
    finally:
        del RULES["first-answer"]
