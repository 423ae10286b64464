"""Fit `route`'s routing table from stored pools: compute-optimal scaling (Snell et al. 2024,
arXiv:2408.03314).

Snell et al. bin questions by difficulty and pick, per bin, the test-time strategy that does best
at a given compute; on MATH this beat best-of-N by ~4× in compute. Here, for one model's pools:
1) difficulty = how many of the first `probe` samples agree with their majority — what `route`
   measures at inference time, so the fitted table runs as it is;
2) actions = stop at k samples, k ∈ {probe, probe + step, …, N}; the outcome of k on a question
   is the vote over its first k pool samples (a replay, `replay.prefix_vote`), its cost their
   completion tokens;
3) for an average budget, choose one k per bin that maximises correct answers within it (every
   combination is tried: a few bins × a few ks) — that choice is the routing table;
4) compare with the best uniform k at no more cost. The fit is cross-fitted: fit on the even
   questions and score on the odd, then the reverse, so the reported gain is held-out.

    >>> from thinktime.bench.replay import Pool
    >>> easy = Pool.of([("1", True, 10)] * 4)
    >>> contested = Pool.of([("1", False, 10)] + [("2", True, 10)] * 3)
    >>> uniform([easy, contested], 2), uniform([easy, contested], 4)
    (Score(accuracy=0.5, tokens=20.0), Score(accuracy=1.0, tokens=40.0))
    >>> table = fit_table([easy, contested], probe=2, ks=(2, 4), budget=30)
    >>> table.choice, evaluate([easy, contested], table)  # 2 for the agreed, 4 for the split
    ({1: 4, 2: 2}, Score(accuracy=1.0, tokens=30.0))
    >>> table.route_params()  # what `route` takes: probe_n, then (min_agreement, extra, label)
    {'probe_n': 2, 'table': [[1.0, 0, 'agree2'], [0.0, 2, 'agree1']]}
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from thinktime.bench.replay import Pool, agreeing, prefix_vote
from thinktime.errors import ThinktimeError


@dataclass(frozen=True)
class RoutingTable:
    """Samples to draw per probe-agreement bin: `choice[agreeing] = k`."""

    probe: int
    choice: dict[int, int]

    def k_for(self, agree: int) -> int:
        """The k for a probe agreement, as `route` picks it: the row of the highest fitted bin
        at or below it (the lowest bin when none is)."""
        below = [a for a in self.choice if a <= agree]
        return self.choice[max(below) if below else min(self.choice)]

    def route_params(self) -> dict[str, object]:
        """The `route` strategy parameters that run this table (probe, then extra samples)."""
        rows = sorted(self.choice.items(), reverse=True)
        table = [
            [0.0 if i == len(rows) - 1 else agree / self.probe, k - self.probe, f"agree{agree}"]
            for i, (agree, k) in enumerate(rows)
        ]
        return {"probe_n": self.probe, "table": table}


@dataclass(frozen=True)
class Score:
    accuracy: float
    tokens: float  # mean completion tokens per question


def bins(pools: Sequence[Pool], probe: int) -> dict[int, list[Pool]]:
    """Questions grouped by how many of their first `probe` samples agree."""
    groups: dict[int, list[Pool]] = defaultdict(list)
    for pool in pools:
        groups[agreeing(pool, probe)].append(pool)
    return dict(groups)


def evaluate(pools: Sequence[Pool], table: RoutingTable) -> Score:
    """Accuracy and mean tokens of routing these pools by the table."""
    hits = tokens = 0
    for pool in pools:
        hit, spent = prefix_vote(pool, table.k_for(agreeing(pool, table.probe)))
        hits += hit
        tokens += spent
    return Score(hits / len(pools), tokens / len(pools))


def uniform(pools: Sequence[Pool], k: int) -> Score:
    """Every question gets its first k samples."""
    outcomes = [prefix_vote(pool, k) for pool in pools]
    return Score(sum(o[0] for o in outcomes) / len(pools), sum(o[1] for o in outcomes) / len(pools))


def fit_table(pools: Sequence[Pool], probe: int, ks: Sequence[int], budget: float) -> RoutingTable:
    """The per-bin k with the most correct answers at mean tokens ≤ budget (cheapest on ties)."""
    if not pools:
        raise ThinktimeError(
            "no pools to fit a routing table on; run a self_consistency pool first"
        )
    if any(k < probe for k in ks):
        raise ThinktimeError(f"every k must be ≥ the probe ({probe}): got {sorted(ks)}")
    groups = bins(pools, probe)
    # each bin's (correct, tokens) for every k: sums over its questions
    outcomes = {
        agree: {k: [sum(v) for v in zip(*(prefix_vote(p, k) for p in members), strict=True)]
                for k in ks}
        for agree, members in groups.items()
    }  # fmt: skip
    limit = budget * len(pools)
    best: tuple[float, float, tuple[int, ...]] | None = None
    keys = sorted(outcomes)
    for combo in itertools.product(sorted(ks), repeat=len(keys)):
        hits = sum(outcomes[a][k][0] for a, k in zip(keys, combo, strict=True))
        tokens = sum(outcomes[a][k][1] for a, k in zip(keys, combo, strict=True))
        if tokens <= limit and (best is None or (hits, -tokens) > (best[0], -best[1])):
            best = (hits, tokens, combo)
    if best is None:  # even the cheapest choice costs more: spend the least
        best = (0, 0, tuple(min(ks) for _ in keys))
    return RoutingTable(probe, dict(zip(keys, best[2], strict=True)))


@dataclass(frozen=True)
class Comparison:
    """At one uniform k's mean cost (the budget): that k, and the table fitted to its cost."""

    uniform_k: int
    uniform: Score
    fitted: Score  # in-sample: fitted and scored on all questions
    held_out: Score  # cross-fitted: each half scored by the table fitted on the other half
    table: RoutingTable


def compare(pools: Sequence[Pool], probe: int, ks: Sequence[int]) -> list[Comparison]:
    """For each uniform k: the table fitted at that k's mean cost, in-sample and held-out."""
    halves = (pools[0::2], pools[1::2])
    rows = []
    for k in sorted(ks):
        base = uniform(pools, k)
        table = fit_table(pools, probe, ks, base.tokens)
        scores = []
        for fit_on, score_on in (halves, halves[::-1]):
            half = evaluate(score_on, fit_table(fit_on, probe, ks, base.tokens))
            scores.append((half, len(score_on)))
        n = len(pools)
        held = Score(
            sum(s.accuracy * m for s, m in scores) / n, sum(s.tokens * m for s, m in scores) / n
        )
        rows.append(Comparison(k, base, evaluate(pools, table), held, table))
    return rows


def savings(pools: Sequence[Pool], probe: int, ks: Sequence[int]) -> tuple[float, float] | None:
    """(tokens a routing table needs to match the best uniform accuracy, that uniform's tokens).

    The table's cost is found by fitting at each candidate budget (every per-bin mix's cost),
    in-sample; None when no mix reaches the best uniform accuracy.
    """
    uniforms = [uniform(pools, k) for k in ks]
    best = max(uniforms, key=lambda s: (s.accuracy, -s.tokens))
    budgets = [s.tokens * f for s in uniforms for f in (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)]
    for budget in sorted(budgets):
        score = evaluate(pools, fit_table(pools, probe, ks, budget))
        if score.accuracy >= best.accuracy:
            return score.tokens, best.tokens
    return None
