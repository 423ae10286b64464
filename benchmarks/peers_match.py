"""The arithmetic of the peers head-to-head (benchmarks/peers.py): matched budgets and the table.

Every method, peer or thinktime, is one `Row`: each question's correctness, the tokens the
engine counted while it ran (llama.cpp's own counters, read before and after), the completion
tokens the method reported itself (None where it reports none), and its seconds. From the rows:

1) `target_tokens`: the engine completion tokens per question of the peers' best method (the
   highest accuracy; fewer tokens break a tie) — the budget thinktime's methods are held to;
2) `sizes`: how many samples, candidates, particles or iterations of each thinktime method fit
   that budget, given the tokens one cot sample took on the same questions (`per_sample`) and
   the judge's few tokens per verdict; the budget itself is also passed as a hard cap
   (`Budget.max_completion_tokens`), so no method can spend more than the peers' best did;
3) `table`: one markdown row per method — accuracy with its 95% CI, engine tokens, reported
   tokens, seconds — and, for every method but thinktime's best, the paired difference
   (thinktime's best − that method) on the same questions with its bootstrap and adjusted-Wald
   CIs and the exact McNemar p (`thinktime.bench.paired.compare`).

    >>> peers = [Row("optillm", "bon", "n=3", [1, 0], 900, 400, 300, 10.0),
    ...          Row("its_hub", "particle_filtering", "particles=4", [1, 1], 1200, 800, None, 30.0)]
    >>> target_tokens(peers)
    600
    >>> sizes(600, per_sample=150)["self_consistency"]
    {'n': 4}
    >>> best(peers).method
    'particle_filtering'
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from thinktime.bench.paired import compare
from thinktime.bench.results import bootstrap_ci

JUDGE_TOKENS = 4  # the judge verifier's max_tokens: what one verdict can cost (verifiers/judge.py)
THINKTIME = "thinktime"


@dataclass(frozen=True)
class Row:
    """One method run on the questions: who ran it, what it got right, what it cost."""

    side: str  # "optillm", "its_hub" or "thinktime"
    method: str
    config: str  # its parameters, as the table shows them
    correct: Sequence[float]  # 1.0 / 0.0 per question, in question order
    completion_tokens: int  # the engine's own count (tokens_predicted_total), all questions
    prompt_tokens: int  # the engine's prompt tokens it evaluated (prompt_tokens_total)
    reported_tokens: int | None  # completion tokens the method itself reported (None: none)
    seconds: float  # wall seconds, all questions

    @property
    def n(self) -> int:
        return len(self.correct)

    @property
    def accuracy(self) -> float:
        return sum(self.correct) / self.n if self.n else 0.0

    def per_question(self, total: float) -> float:
        return total / self.n if self.n else 0.0


def best(rows: Sequence[Row]) -> Row:
    """The most accurate row; among equals, the one that spent the fewest engine tokens."""
    return max(rows, key=lambda r: (r.accuracy, -r.completion_tokens))


def target_tokens(peer_rows: Sequence[Row]) -> int:
    """Engine completion tokens per question of the peers' best method (at least 1)."""
    top = best(peer_rows)
    return max(1, round(top.per_question(top.completion_tokens)))


def sizes(target: int, per_sample: float, max_steps: int = 10) -> dict[str, dict[str, int]]:
    """thinktime's methods sized to spend about `target` completion tokens per question.

    `per_sample`: the mean completion tokens of one whole solution (cot) on these questions.
    A best-of-n candidate also costs one verdict; a particle one verdict per step (at most
    `max_steps`); an MCTS iteration expands 3 steps of about a third of a solution, each
    judged. Each count is at least 1, and the budget cap binds (it cuts what does not fit).

    How a count is rounded follows how the ledger spends the budget. A method that draws all
    its samples in one call (self-consistency, best-of-n) gets an even share of the budget per
    sample (`Ledger._fit`: tokens left // samples), so its count is rounded down: each share
    then holds one whole solution. Rounded up, 306 tokens over n = 4 gave 76-token shares for
    100-token solutions and cut them (51% against plain cot's 56% on 80 chain-sum questions,
    docs/results/peers.md). A step search spends its budget step by step, so its count is
    rounded up, to reach the target.

        >>> for method, params in sizes(1000, per_sample=100).items():
        ...     print(method, params)
        self_consistency {'n': 10}
        best_of_n {'n': 9}
        particle_filtering {'particles': 8, 'max_steps': 10}
        mcts {'iterations': 9, 'expand': 3}
        >>> sizes(306, per_sample=100)["self_consistency"], sizes(50, per_sample=100)["mcts"]
        ({'n': 3}, {'iterations': 1, 'expand': 3})
    """
    sample = max(per_sample, 1.0)

    def whole(unit: float, cap: int) -> int:  # one call, even shares: each holds a solution
        return max(1, min(cap, int(target // unit)))

    def reach(unit: float, cap: int) -> int:  # step by step: enough steps to reach the target
        return max(1, min(cap, math.ceil(target / unit)))

    return {
        "self_consistency": {"n": whole(sample, 1024)},
        "best_of_n": {"n": whole(sample + JUDGE_TOKENS, 1024)},
        "particle_filtering": {
            "particles": reach(sample + JUDGE_TOKENS * max_steps, 64),
            "max_steps": max_steps,
        },
        "mcts": {"iterations": reach(sample + 3 * JUDGE_TOKENS, 256), "expand": 3},
    }


def _percent(x: float) -> str:
    return f"{100 * x:.1f}%"


def table(rows: Sequence[Row]) -> str:
    """The markdown table: every row, with its paired difference from thinktime's best."""
    ours = [r for r in rows if r.side == THINKTIME]
    top = best(ours) if ours else None
    lines = [
        "| side | method | config | n | accuracy [95% CI] | engine completion tokens/q "
        "| engine prompt tokens/q | reported tokens/q | seconds/q "
        "| thinktime best − this [95% CI] (adjusted Wald) | wins/losses | McNemar p |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        low, high = bootstrap_ci(list(row.correct))
        reported = (
            "—" if row.reported_tokens is None else f"{row.per_question(row.reported_tokens):.0f}"
        )
        paired = "—", "—", "—"
        if top is not None and row is not top and row.n == top.n:
            c = compare(row.correct, top.correct, row.method, top.method)
            paired = (
                f"{100 * c.difference:+.1f} [{100 * c.ci[0]:+.1f}, {100 * c.ci[1]:+.1f}] "
                f"({100 * c.ci_adjusted[0]:+.1f}, {100 * c.ci_adjusted[1]:+.1f}) pts",
                f"{c.b_wins}/{c.a_wins}",
                f"{c.p_value:.3g}",
            )
        lines.append(
            f"| {row.side} | {row.method}{' (best)' if row is top else ''} | {row.config} "
            f"| {row.n} | {_percent(row.accuracy)} [{_percent(low)}, {_percent(high)}] "
            f"| {row.per_question(row.completion_tokens):.0f} "
            f"| {row.per_question(row.prompt_tokens):.0f} | {reported} "
            f"| {row.per_question(row.seconds):.1f} | {' | '.join(paired)} |"
        )
    return "\n".join(lines)
