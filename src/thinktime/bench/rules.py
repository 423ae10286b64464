"""Aggregation and stopping rules replayed on stored pools, each against a reference rule.

A pool (n samples of one question, in drawn order, `bench.replay.Pool`) is one honest draw of
every prefix of it, so any rule that reads samples in order — a vote over the first k, a vote
weighted by confidence, a stopping rule, a filter — can be evaluated on it at no new compute,
on the same questions as every other rule. `replay_table` does that for every registered rule
and compares each with a reference (default `maj@n`) question by question: the paired
difference with its CI and McNemar's p (`bench.paired`), and the tokens each spent — completion
tokens alone, and with the prompt tokens of the prefills it paid (`Replayed.prefills`).

Rules are registered like strategies (`RULES`, a plugin may add its own); a rule takes a pool
and returns what it did (`Replayed`), or None where the pool lacks what it reads (token
confidences, sample texts, more than k samples). Rules with a live strategy (adaptive
consistency, DeepConf) run that strategy's own code, so replay = live
(`tests/strategies/test_deepconf.py`, `tests/bench/test_replay_spend.py`). A rule with parameters
is written `FAMILY:NAME=VALUE,…` (`parse_rule`: `deepconf:keep=90,window=16`, `maj:k=8`), its
parameters checked by the strategy's own model where it has one (`DeepConfParams`,
`AdaptiveParams`).

    >>> from thinktime.bench.replay import Pool
    >>> pool = Pool.of([("4", True, 10), ("5", False, 12), ("4", True, 11), ("5", False, 9)])
    >>> RULES["maj@1"](pool), RULES["maj@n"](pool).completion_tokens
    (Replayed(correct=True, completion_tokens=10, prefills=1, samples=1, cut=0, cut_tokens=0), 42)
    >>> RULES["maj@4"](pool) is None  # the maj@k curve stops below n: maj@n is its top
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from thinktime.answers.confidence import MEASURES, Measure
from thinktime.answers.voting import vote
from thinktime.assignments import parse_items
from thinktime.bench.paired import Comparison, compare
from thinktime.bench.replay import Pool, Replayed, prefix_vote, replay_adaptive, replayed_deepconf
from thinktime.bench.selection import borda_weights, largest_cluster
from thinktime.errors import ThinktimeError
from thinktime.registry import Registry
from thinktime.strategies.adaptive_consistency import AdaptiveParams
from thinktime.strategies.deepconf import DeepConfParams

Rule = Callable[[Pool], "Replayed | None"]
RULES: Registry[Rule] = Registry("replay rule", {})  # built-ins below; plugins add theirs
P = TypeVar("P", bound=BaseModel)
M = TypeVar("M", bound="MeasureParams")


# --- the rules, each made from typed parameters ----------------------------------------------


class MajorityParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    k: int = Field(ge=1, le=1024, description="Vote over the first k samples (maj@k).")


class MeasureParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    measure: Measure = Field("self_certainty", description="The trace confidence read.")
    k: int | None = Field(
        None, ge=1, le=1024, description="Read the first k samples (default: all n)."
    )


class BordaParams(MeasureParams):
    p: float = Field(0.5, ge=0.0, le=64.0, description="Vote (N − r + 1)^p at rank r.")


class WholeTextParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    threshold: float = Field(
        0.8, gt=0.0, le=1.0, description="Text similarity to join a cluster (optillm: 0.8)."
    )


def majority(params: MajorityParams) -> Rule:
    """maj@k: the vote of the first k samples, one call's shared prefill (None if n < k)."""

    def rule(pool: Pool) -> Replayed | None:
        if params.k > len(pool):
            return None
        hit, tokens = prefix_vote(pool, params.k)
        return Replayed(hit, tokens, 1, params.k)

    return rule


def _all(pool: Pool) -> Replayed:
    """maj@n: the vote of every sample of the pool."""
    hit, tokens = prefix_vote(pool, len(pool))
    return Replayed(hit, tokens, 1, len(pool))


def _curve(k: int) -> Rule:
    """maj@k on the curve below n: None where k ≥ n (the row would be maj@n again)."""
    below = majority(MajorityParams(k=k))
    return lambda pool: below(pool) if k < len(pool) else None


def _whole(pool: Pool, hit: bool) -> Replayed:
    """A rule that reads every sample of one call: all their tokens, one prefill."""
    return Replayed(hit, sum(pool.tokens), 1, len(pool))


def _on_first(k: int | None, rule: Rule) -> Rule:
    """`rule` on the first k samples of each pool (None where the pool has fewer): a
    k-sample rule at maj@k's tokens."""
    if k is None:
        return rule
    return lambda pool: rule(pool.first(k)) if k <= len(pool) else None


def _of_first_k(build: Callable[[M], Rule]) -> Callable[[M], Rule]:
    """A confidence rule's builder whose rule reads only the first `params.k` samples."""
    return lambda params: _on_first(params.k, build(params))


@_of_first_k
def weighted(params: MeasureParams) -> Rule:
    """Every sample (of the first k) votes, weighted by its confidence `measure`."""

    def rule(pool: Pool) -> Replayed | None:
        if len(pool.confidences) != len(pool):
            return None
        weights = [c.measure(params.measure) for c in pool.confidences]
        winner, _ = vote(list(pool.answers), weights)
        return _whole(pool, pool.hit(winner))

    return rule


@_of_first_k
def best(params: MeasureParams) -> Rule:
    """Best-of-n (of the first k) by one confidence measure: the single most confident
    answered sample."""

    def rule(pool: Pool) -> Replayed | None:
        if len(pool.confidences) != len(pool):
            return None
        answered = [i for i, a in enumerate(pool.answers) if a is not None]
        if not answered:
            return _whole(pool, False)
        top = max(answered, key=lambda i: pool.confidences[i].measure(params.measure))
        return _whole(pool, pool.correct[top])

    return rule


@_of_first_k
def borda(params: BordaParams) -> Rule:
    """Borda voting (of the first k) by confidence rank (`selection.borda_weights`, Kang et
    al. 2025)."""

    def rule(pool: Pool) -> Replayed | None:
        if len(pool.confidences) != len(pool):
            return None
        scores = [c.measure(params.measure) for c in pool.confidences]
        winner, _ = vote(list(pool.answers), borda_weights(scores, params.p))
        return _whole(pool, pool.hit(winner))

    return rule


def whole_text(params: WholeTextParams) -> Rule:
    """optillm's self-consistency: the first text of the largest cluster of similar texts
    (`selection.largest_cluster`), right if that sample is. optillm draws its samples as n
    calls (n prefills); on a pool drawn as one call they shared one, and that is billed."""

    def rule(pool: Pool) -> Replayed | None:
        if len(pool.texts) != len(pool) or not any(pool.texts):
            return None
        return _whole(pool, pool.correct[largest_cluster(pool.texts, params.threshold)])

    return rule


def adaptive(params: AdaptiveParams, given: frozenset[str] = frozenset()) -> Rule:
    """`adaptive_consistency` replayed (max_n: the pool's size unless given); each batch one
    engine call, so one prefill each."""

    def rule(pool: Pool) -> Replayed:
        own = params if "max_n" in given else params.model_copy(update={"max_n": len(pool)})
        hit, tokens, used = replay_adaptive(pool, own)
        return Replayed(hit, tokens, math.ceil(used / own.batch), used)

    return rule


def deepconf(params: DeepConfParams, given: frozenset[str] = frozenset()) -> Rule:
    """`deepconf` replayed (n: the pool's size unless given), billed as it draws
    (`replay.replayed_deepconf`: online, one prefill per watched trace)."""

    def rule(pool: Pool) -> Replayed | None:
        if len(pool.confidences) != len(pool):
            return None
        own = params if "n" in given else params.model_copy(update={"n": len(pool)})
        return replayed_deepconf(pool, own)

    return rule


# --- `FAMILY:NAME=VALUE,…`: a rule with the parameters written out --------------------------


@dataclass(frozen=True)
class Family(Generic[P]):
    """A kind of rule: the model its parameters are checked by, and the rule made from them
    (with the names given, so a size left out can default to the pool's)."""

    params: type[P]
    make: Callable[[P, frozenset[str]], Rule]


FAMILIES: Registry[Family[Any]] = Registry("replay rule family", {})
FAMILIES["maj"] = Family(MajorityParams, lambda p, _: majority(p))
FAMILIES["weighted"] = Family(MeasureParams, lambda p, _: weighted(p))
FAMILIES["best"] = Family(MeasureParams, lambda p, _: best(p))
FAMILIES["borda"] = Family(BordaParams, lambda p, _: borda(p))
FAMILIES["whole-text"] = Family(WholeTextParams, lambda p, _: whole_text(p))
FAMILIES["adaptive"] = Family(AdaptiveParams, adaptive)
FAMILIES["deepconf"] = Family(DeepConfParams, deepconf)


def parse_rule(spec: str) -> Rule:
    """The rule `spec` names: a registered rule (`maj@n`, `deepconf-low:online`) or
    `FAMILY:NAME=VALUE,…` (`adaptive:rule=beta,threshold=0.9`); a bad one raises
    `ThinktimeError` with one line saying what was wrong and how to write it."""
    spec = spec.strip()
    if spec in RULES:
        return RULES[spec]
    name, _, items = spec.partition(":")
    if name not in FAMILIES:
        raise ThinktimeError(
            f"unknown replay rule {spec!r}: name a registered rule ({', '.join(RULES)}) or "
            f"write FAMILY:NAME=VALUE,… with FAMILY one of {', '.join(FAMILIES)}"
        )
    family = FAMILIES[name]
    usage = (
        f"bad replay rule {spec!r}: write {name}:NAME=VALUE,… with NAME one of "
        f"{', '.join(family.params.model_fields)}"
    )
    values = parse_items(items, usage)
    try:
        params = family.params.model_validate(values)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ThinktimeError(f"{usage} ({problems})") from None
    return family.make(params, frozenset(values))


# --- the built-ins ---------------------------------------------------------------------------

for _k in (2**i for i in range(10)):  # maj@1, maj@2, maj@4, … below each pool's n
    RULES[f"maj@{_k}"] = _curve(_k)
RULES["maj@n"] = _all
for _measure in MEASURES:
    RULES[f"weighted:{_measure}"] = weighted(MeasureParams(measure=_measure))
RULES["best:self_certainty"] = best(MeasureParams(measure="self_certainty"))
# its-hub's confidence selection: the sample whose last tokens the model was surest of
RULES["best:tail"] = best(MeasureParams(measure="tail"))
# Kang et al.'s Borda vote at p = 0.5, the default of their code (`voting_from_list.py`)
RULES["borda:self_certainty"] = borda(BordaParams(measure="self_certainty", p=0.5))
RULES["whole-text"] = whole_text(WholeTextParams())
RULES["adaptive:beta"] = adaptive(AdaptiveParams(rule="beta"))
RULES["adaptive:window"] = adaptive(AdaptiveParams(rule="window"))
RULES["deepconf-low:offline"] = deepconf(DeepConfParams(mode="offline", keep=10))
RULES["deepconf-high:offline"] = deepconf(DeepConfParams(mode="offline", keep=90))
RULES["deepconf-low:online"] = deepconf(DeepConfParams(mode="online", keep=10))
RULES["deepconf-high:online"] = deepconf(DeepConfParams(mode="online", keep=90))
# the official code's warm-up vote: only the warm-up traces at or above the threshold vote
RULES["deepconf-low:online:warmup-above"] = deepconf(
    DeepConfParams(mode="online", keep=10, warmup_vote="above")
)


# --- the table -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleRow:
    """One rule on the pools it could read, against the reference on those same pools; each
    figure per question, each ratio to the reference's on the same questions."""

    rule: str
    n: int
    accuracy: float
    tokens: float  # completion tokens
    token_ratio: float
    prefills: float  # prompt prefills paid
    total_tokens: float  # completion tokens + prompt tokens (prefills × the prompt's length)
    total_token_ratio: float
    samples: float  # samples drawn
    cut: float  # samples that did not vote (stopped online, filtered offline)
    cut_tokens: float  # their completion tokens
    versus: Comparison


def replay_table(
    pools: Sequence[Pool], reference: str = "maj@n", rules: Mapping[str, Rule] | None = None
) -> list[RuleRow]:
    """Every rule of `rules` (default: every registered one) on `pools`, each compared with
    `reference` (a registered rule or a `FAMILY:…` spec) question by question."""
    base_rule = parse_rule(reference)
    base = [base_rule(pool) for pool in pools]
    rows = []
    for name, rule in (RULES if rules is None else rules).items():
        triples = [(b, r, pool) for b, pool in zip(base, pools, strict=True)
                   if b is not None and (r := rule(pool)) is not None]  # fmt: skip
        if not triples:
            continue
        rows.append(_row(name, triples, reference))
    return rows


def _row(name: str, triples: list[tuple[Replayed, Replayed, Pool]], reference: str) -> RuleRow:
    """One rule's row from (reference, rule, pool) on each question both could read."""
    n = len(triples)

    def total(r: Replayed, pool: Pool) -> int:
        return r.completion_tokens + r.prefills * pool.prompt_tokens

    tokens = sum(r.completion_tokens for _, r, _ in triples)
    ref_tokens = sum(b.completion_tokens for b, _, _ in triples)
    totals = sum(total(r, pool) for _, r, pool in triples)
    ref_totals = sum(total(b, pool) for b, _, pool in triples)
    own = [float(r.correct) for _, r, _ in triples]
    return RuleRow(
        rule=name, n=n, accuracy=sum(own) / n, tokens=tokens / n,
        token_ratio=tokens / max(ref_tokens, 1),
        prefills=sum(r.prefills for _, r, _ in triples) / n, total_tokens=totals / n,
        total_token_ratio=totals / max(ref_totals, 1),
        samples=sum(r.samples for _, r, _ in triples) / n,
        cut=sum(r.cut for _, r, _ in triples) / n,
        cut_tokens=sum(r.cut_tokens for _, r, _ in triples) / n,
        versus=compare([float(b.correct) for b, _, _ in triples], own, reference, name),
    )  # fmt: skip
