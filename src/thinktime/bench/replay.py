"""Replay sampling strategies on stored pools: what a strategy would have answered, and what it
would have spent, had its samples been the first ones of the pool.

Pool samples are i.i.d. draws in the order the engine returned them, so the first k of them are
one honest draw of k samples. A replay reuses the strategy's own stopping code (`settled`), so
the rule measured is the rule that runs; only the sampler is swapped for the pool. This is how
Adaptive-Consistency (Aggarwal et al. 2023) and ESC (Li et al. 2024) evaluate stopping rules.

A replay bills what the live strategy would have: the completion tokens it drew (a stopped
trace up to its cut) and the prompt prefills its engine calls pay (`Replayed.prefills`) — one
per call, since a call's samples share one, and one per watched trace, since an engine that
can stop one trace draws each as its own call (`generate_watched` of llama.cpp and the
OpenAI-compatible backend). A pool keeps its prompt's length, so a prefill has a price.

    >>> pool = Pool.of([("4", True, 10), ("4", True, 12), ("5", False, 9), ("4", True, 11)])
    >>> prefix_vote(pool, 3)
    (True, 31)
    >>> from thinktime.strategies.adaptive_consistency import AdaptiveParams
    >>> replay_adaptive(pool, AdaptiveParams(max_n=4, batch=2, rule="window", window=2))
    (True, 22, 2)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from thinktime.answers.confidence import TraceConfidence, summarize, unpack
from thinktime.answers.voting import vote
from thinktime.backends.base import Watch
from thinktime.errors import ThinktimeError
from thinktime.strategies.adaptive_consistency import AdaptiveParams, settled
from thinktime.strategies.deepconf import (
    DeepConfParams,
    online_voters,
    run_offline,
    run_online,
    weighted_vote,
)
from thinktime.strategies.weighting import weighted
from thinktime.types import CUT, Sample, TokenLogprob


@dataclass(frozen=True)
class Pool:
    """One question's samples in drawn order: answers, verdicts and completion tokens."""

    question_id: str
    answers: tuple[str | None, ...]
    correct: tuple[bool, ...]
    tokens: tuple[int, ...]
    # each sample's token confidences and self-certainty, where the pool was drawn with top-k
    # logprobs (store migration 5); empty otherwise
    confidences: tuple[TraceConfidence, ...] = ()
    # what one prefill of the question's prompt costs: the pool's stored prompt tokens, its
    # samples having shared one prefill (0 where the store kept none)
    prompt_tokens: int = 0
    texts: tuple[str, ...] = ()  # each sample's text (what followed any thinking)

    @classmethod
    def of(
        cls,
        samples: Sequence[tuple[str | None, bool, int]],
        question_id: str = "",
        confidences: Sequence[TraceConfidence] = (),
        *,
        prompt_tokens: int = 0,
        texts: Sequence[str] = (),
    ) -> Pool:
        return cls(
            question_id,
            tuple(s[0] for s in samples),
            tuple(s[1] for s in samples),
            tuple(s[2] for s in samples),
            tuple(confidences),
            prompt_tokens,
            tuple(texts),
        )

    def __len__(self) -> int:
        return len(self.answers)

    def first(self, k: int) -> Pool:
        """The pool's first k samples: one honest draw of k (what a k-sample rule reads)."""
        return Pool(
            self.question_id, self.answers[:k], self.correct[:k], self.tokens[:k],
            self.confidences[:k], self.prompt_tokens, self.texts[:k],
        )  # fmt: skip

    def hit(self, winner: str | None) -> bool:
        """Is the answer `winner` (a vote's, taken from this pool) correct? None never is."""
        if winner is None:
            return False
        return next(
            (c for a, c in zip(self.answers, self.correct, strict=True) if a == winner), False
        )


@dataclass(frozen=True)
class Replayed:
    """What one rule did on one pool: its verdict and what it spent."""

    correct: bool
    completion_tokens: int
    prefills: int  # prompt prefills paid: one per engine call, one per watched trace
    samples: int  # samples drawn (started, for a rule that stops them)
    cut: int = 0  # samples that did not vote: stopped online, or filtered out offline
    cut_tokens: int = 0  # completion tokens of those (spent all the same)


def load_pools(store: Any, model: str, config: str, task: str | None = None) -> list[Pool]:
    """Every stored pool of one (model, config), in question order of the store."""
    pools = []
    for row in store.results(task):
        if row["model"] != model or row["config"] != config:
            continue
        samples = store.samples(row["id"], confidences=True)
        confidences = [
            summarize(unpack(s["token_confidences"]), s["self_certainty"] or 0.0)
            for s in samples
            if s.get("token_confidences") is not None
        ]
        pools.append(
            Pool.of(
                [
                    (s["answer"], s["verdict"] == "correct", s["completion_tokens"] or 0)
                    for s in samples
                ],
                row["question_id"],
                confidences if len(confidences) == len(samples) else (),
                prompt_tokens=row["prompt_tokens"] or 0,
                texts=[s["text"] or "" for s in samples],
            )
        )
    return sorted(pools, key=lambda p: _natural(p.question_id))


def _natural(text: str) -> list[Any]:
    """Sort key that puts "q/2" before "q/10"."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", text)]


def load_live(store: Any, model: str, config: str, pools: Sequence[Pool]) -> dict[str, Replayed]:
    """A stored live run of (model, config), question id → what it did, on the questions of
    `pools`: its verdict, its bill's completion tokens, its samples (and those cut), and its
    prompt tokens as prefills of the pool's prompt (what the live bill charged)."""
    length = {p.question_id: p.prompt_tokens for p in pools}
    live = {}
    for row in store.results():
        if (row["model"], row["config"]) != (model, config) or row["question_id"] not in length:
            continue
        samples = store.samples(row["id"])
        cut = [s["completion_tokens"] or 0 for s in samples if s["finish_reason"] == CUT]
        prompt = row["prompt_tokens"] or 0
        live[row["question_id"]] = Replayed(
            row["verdict"] == "correct", row["completion_tokens"] or 0,
            round(prompt / length[row["question_id"]]) if length[row["question_id"]] else 0,
            len(samples), len(cut), sum(cut),
        )  # fmt: skip
    return live


def prefix_vote(pool: Pool, k: int) -> tuple[bool, int]:
    """(is the majority of the first k samples correct, their completion tokens)."""
    k = min(k, len(pool))
    winner, _ = vote(list(pool.answers[:k]))
    return pool.hit(winner), sum(pool.tokens[:k])


def agreeing(pool: Pool, k: int) -> int:
    """How many of the first k samples agree with their majority (a difficulty probe)."""
    _, table = vote(list(pool.answers[:k]))
    return int(max(table.values(), default=0))


def replay_adaptive(pool: Pool, params: AdaptiveParams) -> tuple[bool, int, int]:
    """(correct, tokens, samples used) of `adaptive_consistency` on this pool: its stopping
    rule after each batch, then its final vote (`weighted`, so `weight=confidence` weighs the
    votes by the pool's stored confidences, as the live strategy does). Each batch is one
    engine call: ⌈used / batch⌉ prefills."""
    if params.weight != "none" and len(pool.confidences) != len(pool):
        raise ThinktimeError(
            f"pool {pool.question_id} has no token confidences; draw it with top_logprobs=20"
        )
    confidences = pool.confidences if params.weight != "none" else [None] * len(pool)
    samples = [
        Sample("", a, "stop", t, 0, confidence=c)
        for a, t, c in zip(pool.answers, pool.tokens, confidences, strict=True)
    ]
    used = 0
    while used < min(params.max_n, len(pool)):
        used = min(used + params.batch, params.max_n, len(pool))
        if settled(samples[:used], params):
            break
    outcome = weighted(samples[:used], params)
    return pool.hit(outcome.answer), sum(pool.tokens[:used]), used


def replay_deepconf(pool: Pool, params: DeepConfParams) -> tuple[bool, int, int, int]:
    """(correct, tokens spent, traces drawn, traces cut) of `deepconf` on this pool."""
    r = replayed_deepconf(pool, params)
    return r.correct, r.completion_tokens, r.samples, r.cut


def replayed_deepconf(pool: Pool, params: DeepConfParams) -> Replayed:
    """`deepconf` on this pool: the strategy's own loop (`run_online`) drawing the pool's
    samples in order. A trace the online rule would stop is charged the tokens up to its cut
    (`first_cut` on its stored token confidences); offline spends the first n whole.

    Prefills as the live strategy pays them: offline one call of n (one prefill); online the
    warm-up is one call (one prefill), then every watched trace is a call of its own (one
    prefill each)."""
    if len(pool.confidences) != len(pool):
        raise ThinktimeError(
            f"pool {pool.question_id} has no token confidences; draw it with top_logprobs=20"
        )
    drawn = prefills = 0

    def draw(k: int, watch: Watch | None) -> list[Sample]:
        nonlocal drawn, prefills
        samples = []
        for j, i in enumerate(range(drawn, min(drawn + k, len(pool)))):
            c = pool.confidences[i]
            cut = None if watch is None else _cut(c, watch, j)
            samples.append(
                Sample("", pool.answers[i], "stop" if cut is None else CUT,
                       pool.tokens[i] if cut is None else cut, 0, confidence=c)
            )  # fmt: skip
        drawn += len(samples)
        prefills += 1 if watch is None else len(samples)  # a watched trace is its own call
        return samples

    if params.mode == "offline":
        samples = draw(params.n, None)
        voters = run_offline(samples, params)
    else:
        params = params.model_copy(update={"n": min(params.n, len(pool))})
        samples, cut_below = run_online(draw, params)
        voters = online_voters(samples, params, cut_below)
    winner, _, _ = weighted_vote(voters, params)
    hit = next(
        (pool.correct[i] for i, s in enumerate(voters)
         if s.finish_reason != CUT and s.answer == winner and winner is not None),
        False,
    )  # fmt: skip
    tokens = sum(s.completion_tokens for s in samples)
    # cut: the traces stopped online, or filtered out offline (their tokens were spent anyway)
    marked = voters if params.mode == "offline" else samples
    cut = [s.completion_tokens for s in marked if s.finish_reason == CUT]
    return Replayed(hit, tokens, prefills, len(samples), len(cut), sum(cut))


def _cut(confidence: TraceConfidence, watch: Watch, index: int) -> int | None:
    """Where `watch` stops a stored trace, sample `index` of its call (tokens spent), or None."""
    for i, value in enumerate(confidence.per_token):
        if watch(index, TokenLogprob("", -value, (("", -value),) * 2)):  # mean of the two: C
            return i + 1
    return None
