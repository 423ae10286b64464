"""Aggregation and stopping rules replayed on stored pools, each against a reference rule.

A pool (n samples of one question, in drawn order, `bench.replay.Pool`) is one honest draw of
every prefix of it, so any rule that reads samples in order — a vote over the first k, a vote
weighted by confidence, a stopping rule, a filter — can be evaluated on it at no new compute,
on the same questions as every other rule. `replay_table` does that for every registered rule
and compares each with a reference (default `maj@n`) question by question: the paired
difference with its CI and McNemar's p (`bench.paired`), and the tokens each spent.

Rules are registered like strategies (`RULES`, a plugin may add its own); a rule takes a pool
and returns (correct?, completion tokens spent), or None where the pool lacks what it reads
(token confidences). Rules with a live strategy (adaptive consistency, DeepConf) run that
strategy's own code, so replay = live (`tests/test_replay_rules.py`).

    >>> from thinktime.bench.replay import Pool
    >>> pool = Pool.of([("4", True, 10), ("5", False, 12), ("4", True, 11), ("5", False, 9)])
    >>> RULES["maj@1"](pool), RULES["maj@n"](pool)
    ((True, 10), (True, 42))
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from thinktime.answers.confidence import MEASURES, Measure
from thinktime.answers.voting import vote
from thinktime.bench.paired import Comparison, compare
from thinktime.bench.replay import Pool, prefix_vote, replay_adaptive, replay_deepconf
from thinktime.registry import Registry
from thinktime.strategies.adaptive_consistency import AdaptiveParams
from thinktime.strategies.deepconf import DeepConfParams

Rule = Callable[[Pool], "tuple[bool, int] | None"]
RULES: Registry[Rule] = Registry("replay rule", {})  # built-ins below; plugins add theirs


def _majority(k: int | None) -> Rule:
    return lambda pool: prefix_vote(pool, len(pool) if k is None else k)


def _weighted(measure: Measure) -> Rule:
    def rule(pool: Pool) -> tuple[bool, int] | None:
        if len(pool.confidences) != len(pool):
            return None
        weights = [c.measure(measure) for c in pool.confidences]
        winner, _ = vote(list(pool.answers), weights)
        return pool.hit(winner), sum(pool.tokens)

    return rule


def _most(measure: Measure) -> Rule:
    """Best-of-n by one confidence measure: the single most confident answered sample."""

    def rule(pool: Pool) -> tuple[bool, int] | None:
        if len(pool.confidences) != len(pool):
            return None
        answered = [i for i, a in enumerate(pool.answers) if a is not None]
        if not answered:
            return False, sum(pool.tokens)
        best = max(answered, key=lambda i: pool.confidences[i].measure(measure))
        return pool.correct[best], sum(pool.tokens)

    return rule


def _adaptive(params: AdaptiveParams) -> Rule:
    def rule(pool: Pool) -> tuple[bool, int]:
        hit, tokens, _ = replay_adaptive(pool, params.model_copy(update={"max_n": len(pool)}))
        return hit, tokens

    return rule


def _deepconf(**fields: object) -> Rule:
    def rule(pool: Pool) -> tuple[bool, int] | None:
        if len(pool.confidences) != len(pool):
            return None
        params = DeepConfParams.model_validate({"n": len(pool), **fields})
        hit, tokens, _, _ = replay_deepconf(pool, params)
        return hit, tokens

    return rule


RULES["maj@1"] = _majority(1)
RULES["maj@4"] = _majority(4)
RULES["maj@n/2"] = lambda pool: prefix_vote(pool, max(1, len(pool) // 2))
RULES["maj@n"] = _majority(None)
for _measure in MEASURES:
    RULES[f"weighted:{_measure}"] = _weighted(_measure)
RULES["best:self_certainty"] = _most("self_certainty")
# its-hub's confidence selection: the sample whose last tokens the model was surest of
RULES["best:tail"] = _most("tail")
RULES["adaptive:beta"] = _adaptive(AdaptiveParams(rule="beta"))
RULES["adaptive:window"] = _adaptive(AdaptiveParams(rule="window"))
RULES["deepconf-low:offline"] = _deepconf(mode="offline", keep=10)
RULES["deepconf-high:offline"] = _deepconf(mode="offline", keep=90)
RULES["deepconf-low:online"] = _deepconf(mode="online", keep=10)
RULES["deepconf-high:online"] = _deepconf(mode="online", keep=90)
# the official code's warm-up vote: only the warm-up traces at or above the threshold vote
RULES["deepconf-low:online:warmup-above"] = _deepconf(mode="online", keep=10, warmup_vote="above")


@dataclass(frozen=True)
class RuleRow:
    """One rule on the pools it could read, against the reference on those same pools."""

    rule: str
    n: int
    accuracy: float
    tokens: float  # completion tokens per question
    token_ratio: float  # its tokens / the reference's, on the same questions
    versus: Comparison


def replay_table(pools: Sequence[Pool], reference: str = "maj@n") -> list[RuleRow]:
    """Every registered rule on `pools`, each compared with `reference` question by question."""
    base = [RULES.get_or_fail(reference)(pool) for pool in pools]
    rows = []
    for name, rule in RULES.items():
        pairs = [(b, r) for b, pool in zip(base, pools, strict=True)
                 if b is not None and (r := rule(pool)) is not None]  # fmt: skip
        if not pairs:
            continue
        ref = [float(b[0]) for b, _ in pairs]
        own = [float(r[0]) for _, r in pairs]
        ref_tokens = sum(b[1] for b, _ in pairs)
        tokens = sum(r[1] for _, r in pairs)
        rows.append(
            RuleRow(
                rule=name, n=len(pairs), accuracy=sum(own) / len(own),
                tokens=tokens / len(pairs), token_ratio=tokens / max(ref_tokens, 1),
                versus=compare(ref, own, reference, name),
            )
        )  # fmt: skip
    return rows
