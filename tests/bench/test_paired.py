"""Paired comparisons on shared questions: the difference, its bootstrap CI, exact McNemar."""

from __future__ import annotations

import random

import pytest
from scipy import stats

from tests.helpers.view_store import make_store
from thinktime.bench.paired import adjusted_wald, compare, paired, questions_needed
from thinktime.bench.results import bootstrap_ci
from thinktime.bench.store import Store


def test_the_paired_ci_is_narrower_than_the_arms_side_by_side():
    rng = random.Random(0)
    easy = [rng.random() < 0.5 for _ in range(200)]  # a question is easy for both configs
    a = [1.0 if e and rng.random() < 0.9 else 0.0 for e in easy]
    b = [1.0 if e and rng.random() < 0.97 else float(rng.random() < 0.05) for e in easy]
    c = compare(a, b, "a", "b")
    low, high = c.ci
    assert low <= c.difference <= high
    arm_a, arm_b = bootstrap_ci(a), bootstrap_ci(b)
    unpaired = (arm_b[1] - arm_b[0] + arm_a[1] - arm_a[0]) / 2 * 2**0.5
    assert high - low < 0.6 * unpaired  # the pairing removes the questions' own variance


def test_mcnemar_is_the_exact_binomial_on_discordant_questions():
    a = [1, 1, 1, 0, 0, 0, 0, 1, 1, 0] * 3
    b = [1, 0, 1, 1, 1, 1, 0, 1, 1, 1] * 3
    c = compare(a, b, "a", "b")
    assert (c.b_wins, c.a_wins) == (12, 3)
    assert abs(c.p_value - stats.binomtest(12, 15).pvalue) < 1e-12
    same = compare([1, 0, 1], [1, 0, 1], "a", "b")
    assert (same.difference, same.ci, same.p_value) == (0.0, (0.0, 0.0), 1.0)


def test_questions_needed_grows_as_the_difference_shrinks():
    assert questions_needed(0.10, 0.2) < questions_needed(0.05, 0.2) < questions_needed(0.02, 0.2)
    assert questions_needed(0.05, 0.1) < questions_needed(0.05, 0.3)


def test_paired_compares_every_config_with_the_reference_on_shared_questions(tmp_path):
    store = Store(make_store(tmp_path / "toy.db"))
    rows = store.results()
    reference = rows[0]["config"]
    comparisons = paired(store, reference=reference)
    pairs = {(r["model"], r["config"]) for r in rows if r["config"] != reference}
    assert {(c.model, c.b) for c in comparisons} == pairs
    for c in comparisons:

        def right(config: str, model: str = c.model) -> set[str]:
            return {
                r["question_id"] for r in rows
                if (r["model"], r["config"], r["verdict"]) == (model, config, "correct")
            }  # fmt: skip

        assert c.a == reference and c.n > 0
        assert (c.b_wins, c.a_wins) == (len(right(c.b) - right(c.a)), len(right(c.a) - right(c.b)))


def test_the_adjusted_wald_interval_keeps_its_width_where_the_bootstrap_collapses():
    # 33 questions both got right: the bootstrap says [0, 0]; the difference could be ±8 points
    same = compare([1.0] * 33, [1.0] * 33, "maj@16", "rule")
    assert same.ci == (0.0, 0.0)
    low, high = same.ci_adjusted
    assert round(low, 3) == -0.079 and round(high, 3) == 0.079
    # by hand (Bonett & Price 2012): 3 wins of b, 1 of a, 20 questions
    a = [0.0, 0.0, 0.0, 1.0] + [1.0] * 16
    b = [1.0, 1.0, 1.0, 0.0] + [1.0] * 16
    p_b, p_a = 4 / 22, 2 / 22
    half = 1.959964 * ((p_b + p_a - (p_b - p_a) ** 2) / 22) ** 0.5
    assert adjusted_wald(a, b) == pytest.approx((p_b - p_a - half, p_b - p_a + half), abs=1e-5)
