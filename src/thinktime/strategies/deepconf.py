"""`deepconf`: vote with the traces the model was sure of, and stop the others early.

Every trace is drawn with its tokens' top-k logprobs; its confidence is read from them
(`answers.confidence`: token confidence, windowed group confidence, per-trace summaries).

Offline (`mode=offline`): draw n traces in one batch; keep those whose `measure` is at or above
the (100 − keep)-th percentile of the n (the threshold online uses: 14 of 16 at keep=90, 2 at
keep=10); vote among them, each weighted by its confidence.

Online (`mode=online`, the default):
1) warm-up: draw `warmup` traces whole, in one batched request;
2) threshold s = the (100 − keep)-th percentile of their lowest group confidences
   (`confidence.threshold`: keep=10 is DeepConf-low, keep=90 DeepConf-high);
3) the traces so far vote, weighted by `measure`; stop once the top answer holds `consensus`
   of the weight (τ). Every warm-up trace votes (`warmup_vote="all"`, the default). The
   official code lets only the warm-up traces at or above s vote (`warmup_vote="above"`). With
   its 16-trace warm-up that is 2 voters; with a warm-up of 4 and keep=10 it is 1, so the
   consensus holds at once and the rule stops after the warm-up. Replayed on the committed GSM8K
   pools, "above" took DeepConf-low online from 60% to 20% on the 1.5B (10 questions) and from
   20.0% to 16.7% on the 0.5B (30 questions);
4) draw `batch` more traces at once, each watched token by token: a trace whose last `window`
   tokens' mean confidence drops below s is stopped there — the engine frees its slot for the
   next one, its tokens are billed (`Bill.samples_cut` counts it) and it does not vote;
5) back to 3 until `n` traces were drawn or the budget is spent.

`run_online` is the loop itself over any `draw`, so the bench's replay on stored pools
(`bench.replay.replay_deepconf`) runs this very rule.

Reference: Fu, Wang, Tian, Zhao 2025, "Deep Think with Confidence", arXiv:2508.15260.

    >>> from thinktime.backends.fake import FakeBackend
    >>> from thinktime import solve
    >>> unsure = lambda token: 0.5 if "maybe" in token else 5.0  # each token's confidence
    >>> script = ["so \\\\boxed{4}", "hm \\\\boxed{6}", "maybe maybe \\\\boxed{5}", "\\\\boxed{4}"]
    >>> r = solve("2+2?", backend=FakeBackend(script, confidence=unsure), strategy="deepconf",
    ...           params={"n": 6, "warmup": 2, "batch": 2, "window": 2, "consensus": 1.0})
    >>> r.answer, r.details["cut"], r.bill.samples_cut
    ('4', 1, 1)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from thinktime.answers.confidence import (
    GroupWatch,
    Measure,
    TraceConfidence,
    keep_confident,
    summarize,
    threshold,
    token_confidence,
)
from thinktime.answers.voting import vote
from thinktime.backends.base import Watch
from thinktime.errors import ThinktimeError
from thinktime.strategies.base import Context, Outcome, register_strategy
from thinktime.types import CUT, Sample, TokenLogprob

Draw = Callable[[int, Watch | None], list[Sample]]  # k traces, each watched when a rule is given


class DeepConfParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    mode: Literal["online", "offline"] = Field(
        "online", description="online: stop unsure traces early; offline: filter n traces."
    )
    n: int = Field(16, ge=1, le=1024, description="Traces to draw (online: at most).")
    keep: float = Field(
        10.0, gt=0.0, le=100.0,
        description="η: percent of traces kept (10 = DeepConf-low, 90 = DeepConf-high).",
    )  # fmt: skip
    measure: Measure = Field(
        "lowest_group", description="Trace confidence that filters and weighs."
    )
    window: int = Field(32, ge=2, le=8192, description="Tokens per group (sliding window).")
    tail: int = Field(64, ge=1, le=8192, description="Tokens of the tail confidence.")
    warmup: int = Field(4, ge=1, le=1024, description="online: traces drawn whole to set s.")
    batch: int = Field(4, ge=1, le=256, description="online: traces drawn (and watched) at once.")
    consensus: float = Field(
        0.95, gt=0.5, le=1.0, description="online: stop when the top answer holds this weight."
    )
    warmup_vote: Literal["all", "above"] = Field(
        "all", description="online: the warm-up traces that vote: all, or only those at or "
        "above s (the official code; with a small warm-up, one trace decides).",
    )  # fmt: skip
    top_logprobs: int = Field(
        20, ge=2, le=20, description="k: alternatives per token (2 or more: with 1, the 'mean "
        "of the top-k' is the sampled token's own logprob, surprisal rather than confidence).",
    )  # fmt: skip


def confidence_of(sample: Sample, params: DeepConfParams) -> TraceConfidence:
    """The sample's confidence summaries under this window and tail."""
    c = sample.confidence
    if c is None and sample.completion_tokens == 0:  # cancelled before it began: no weight
        return TraceConfidence(0.0, 0.0, 0.0, 0.0, 0.0)
    if c is None:
        raise ThinktimeError(
            "deepconf needs each token's top-k logprobs and the backend returned none; use "
            "the llamacpp backend or a server that returns top_logprobs"
        )
    return summarize(c.per_token, c.self_certainty, params.window, params.tail)


def weighted_vote(
    samples: Sequence[Sample], params: DeepConfParams
) -> tuple[str | None, dict[str, float], int | None]:
    """The confidence-weighted vote over `samples` (cut ones excluded): the winner, the table,
    and the index of the most confident sample that reached it."""
    weights = [
        confidence_of(s, params).measure(params.measure) if s.finish_reason != CUT else 0.0
        for s in samples
    ]
    answers = [s.answer if s.finish_reason != CUT else None for s in samples]
    winner, table = vote(answers, weights=weights)
    reached = [i for i, s in enumerate(samples) if answers[i] is not None and answers[i] == winner]
    chosen = max(reached, key=lambda i: weights[i], default=None)
    return winner, table, chosen


def agreement(table: dict[str, float]) -> float:
    """The top answer's share of the vote's weight (0 when nothing voted)."""
    total = sum(table.values())
    return max(table.values()) / total if total > 0 else 0.0


def watcher(window: int, cut_below: float) -> Watch:
    """A watch that stops each sample of a call once its window confidence drops below."""
    watches: dict[int, GroupWatch] = {}

    def watch(index: int, token: TokenLogprob) -> bool:
        if not token.top:  # the threshold is on top-k means: a bare logprob is another scale
            raise ThinktimeError(
                "deepconf needs each token's top-k logprobs and the server streamed none; "
                "use a server that returns top_logprobs when streaming"
            )
        if index not in watches:
            watches[index] = GroupWatch(window, cut_below)
        return watches[index].add(token_confidence(token))

    return watch


def run_online(
    draw: Draw, params: DeepConfParams, exhausted: Callable[[], bool] = lambda: False
) -> tuple[list[Sample], float]:
    """DeepConf online (steps 1–5 of the module docs): every trace drawn, and the threshold."""
    samples = draw(min(params.warmup, params.n), None)
    if not samples:  # nothing came back (an empty stored pool): nothing to decide on
        return samples, 0.0
    cut_below = threshold([confidence_of(s, params).lowest_group for s in samples], params.keep)
    # which warm-up traces vote is decided once; a later trace votes as its watch left it
    voters = list(online_voters(samples, params, cut_below))  # a copy: `samples` grows apart
    while len(samples) < params.n and not exhausted():
        _, table, _ = weighted_vote(voters, params)
        if agreement(table) >= params.consensus:
            break
        take = min(params.batch, params.n - len(samples))
        more = draw(take, watcher(params.window, cut_below))
        samples += more
        voters += more
    return samples, cut_below


def online_voters(samples: list[Sample], params: DeepConfParams, cut_below: float) -> list[Sample]:
    """The traces as they vote online: a warm-up trace whose lowest group is below the
    threshold marked as not voting (`CUT`, for the vote only; it was not stopped) unless
    `warmup_vote="all"`; later traces were already cut or kept by the watch."""
    warm = min(params.warmup, params.n)
    if params.warmup_vote == "all":
        return samples
    return [
        replace(s, finish_reason=CUT)
        if i < warm and s.finish_reason != CUT and confidence_of(s, params).lowest_group < cut_below
        else s
        for i, s in enumerate(samples)
    ]


def run_offline(samples: list[Sample], params: DeepConfParams) -> list[Sample]:
    """DeepConf offline: the same traces, those outside the `keep`% most confident marked
    as not voting (`CUT`; nothing was stopped, so their tokens stand)."""
    scores = [confidence_of(s, params).measure(params.measure) for s in samples]
    kept = set(keep_confident(scores, params.keep))
    return [s if i in kept else replace(s, finish_reason=CUT) for i, s in enumerate(samples)]


def _samples(params: DeepConfParams) -> int:
    if params.mode == "offline":
        return params.n
    return min(params.n, max(params.warmup, params.batch))


@register_strategy(
    "deepconf",
    "Vote weighted by token confidence; stop traces whose confidence drops (DeepConf).",
    "Fu et al. 2025, arXiv:2508.15260",
    DeepConfParams,
    samples=_samples,
    drawn=lambda p: p.n,
)
def deepconf(question: str, ctx: Context, params: DeepConfParams) -> Outcome:
    sampling = ctx.params.with_(top_logprobs=params.top_logprobs)
    messages = ctx.messages(question)

    def draw(k: int, watch: Watch | None) -> list[Sample]:
        [batch] = ctx.sample([messages], n=k, params=sampling, watch=watch)
        return batch

    details: dict[str, Any] = {"mode": params.mode, "measure": params.measure}
    if params.mode == "offline":
        drawn = draw(params.n, None)
        voters = run_offline(drawn, params)
        details["kept"] = sum(s.finish_reason != CUT for s in voters)
    else:
        drawn, cut_below = run_online(draw, params, ctx.exhausted)
        details["threshold"] = round(cut_below, 4)
        details["cut"] = sum(s.finish_reason == CUT for s in drawn)
        voters = online_voters(drawn, params, cut_below)
    winner, table, chosen = weighted_vote(voters, params)
    details.update(traces=len(drawn), agreement=round(agreement(table), 4))
    # the filtered traces are marked only for the vote: the stored samples stay as made
    return Outcome(winner, tuple(drawn), table, chosen if winner is not None else None, details)
