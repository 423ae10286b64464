"""`st_bon`: self-truncation best-of-n — decode n samples a little, finish only the most consistent.

Best-of-n decodes n whole samples and needs a reward model to pick one. ST-BoN observes that a
sample whose *early* decoding is most consistent with the others' tends to be the one that
ends most consistent (self-consistency's winner), so it can be picked early, without a
reward model, and the other n − 1 truncated there:
1) n samples are decoded together — one batched call, n = `n`, each up to `early_tokens`;
2) the earliest estimation time c is the first step at which the n prefixes are pairwise
   distinct (or a sample has ended); the buffer window is τ = max(1, ⌊`tau` · c⌋) steps,
   the last τ steps up to c + τ (fewer when the samples stopped sooner);
3) at each step t of the window, every sample's consistency is scored: S_i = the mean over
   j ≠ i of a distance D(i, j) between the samples' first t tokens, and the step votes for
   the sample with the smallest S_i (the earliest on a tie);
4) the sample with the most votes (ties: the earliest) is continued from its prefix to the
   caller's `max_tokens` (raw-text continuation of the chat template, as budget forcing does);
   the others are truncated: they keep their prefix, their tokens are billed, and they do not
   vote (`finish_reason` "cut").

The paper's D is the squared difference of a scalar "chain of embedding" feature of each
sample's hidden states (their mean up to t, across layers), which an engine's HTTP API does not
return. Two distances the engines allow stand in for it (`measure`):
- `text` (any backend that continues raw text): D = 1 − the multiset Jaccard overlap of the two
  prefixes' tokens (case and surrounding spaces ignored): consistency in what the samples say;
- `confidence` (an engine that returns top-k logprobs: the embedded llamacpp one): each
  sample's feature at t is its mean token confidence over its first t tokens (C = −mean of the
  top-20 logprobs, `answers.confidence`), and D = the squared difference, as in the paper — a
  scalar summary of the model's own state, from its output distributions instead of its layers.
The paper stops all n samples at c + τ as soon as c is seen; an engine cannot stop samples on a
rule that reads all of them at once, so here each is decoded to `early_tokens` (the cap on
c + τ) in one call, and the window is read from what came back. Truncation saves n − 1 samples'
tokens after `early_tokens`: pick it about 2 c (c is usually a few tokens to a few dozen).

Reference: Wang et al. 2025, "Sampling-Efficient Test-Time Scaling: Self-Estimating the
Best-of-N Sampling in Early Decoding", arXiv:2503.01422 (code: Alsace08/ST-BoN).

    >>> from thinktime.backends.fake import FakeBackend
    >>> from thinktime import solve
    >>> def script(request, index):
    ...     if not request.prompt.endswith("assistant: "):  # the chosen sample, continued
    ...         return " so 36 - 10 = \\\\boxed{26}"
    ...     return ["3 * 12 = 36 apples in all", "3 * 12 = 36 apples, less ten",
    ...             "We add 12 and 12 to get 24"][index % 3]
    >>> r = solve("apples?", backend=FakeBackend(script), strategy="st_bon", n=3, early_tokens=6)
    >>> r.answer, r.chosen, r.details["c"], [s.finish_reason for s in r.samples]
    ('26', 0, 6, ['stop', 'cut', 'cut'])
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from thinktime.answers.confidence import MIN_ALTERNATIVES, token_confidence
from thinktime.answers.extract import extract_answer
from thinktime.answers.voting import vote
from thinktime.errors import ThinktimeError
from thinktime.strategies.base import Context, Outcome, register_strategy
from thinktime.types import CUT, Completion, Sample

TOP_LOGPROBS = 20  # alternatives per token for `measure=confidence` (DeepConf's k)
_WORD = re.compile(r"\s*\S+|\s+")  # a token where the engine named none: a word
Feature = TypeVar("Feature")


class StBonParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    n: int = Field(8, ge=2, le=64, description="Samples decoded early, of which one is finished.")
    early_tokens: int = Field(
        64, ge=2, le=4096, description="Tokens each sample is decoded to before the choice "
        "(the most c + τ can reach); the others are truncated there.",
    )  # fmt: skip
    tau: float = Field(
        1.0, gt=0.0, le=16.0, description="The buffer window τ as a multiple of the earliest "
        "estimation time c (the paper's default 1: τ = c).",
    )  # fmt: skip
    measure: Literal["text", "confidence"] = Field(
        "text", description="text: the overlap of the prefixes' tokens; confidence: the "
        "difference of their mean token confidence (needs top-k logprobs).",
    )  # fmt: skip


@dataclass(frozen=True)
class Estimate:
    """What the early decoding decided: c, the window's steps, each step's vote, the winner."""

    c: int
    window: range
    votes: tuple[int, ...]
    winner: int


def earliest_estimation_time(prefixes: Sequence[Sequence[str]]) -> int:
    """2) The first step t at which the n t-token prefixes are pairwise distinct, or at which
    the shortest sample has ended (the paper's "any EOS"); at least 1.

    >>> earliest_estimation_time([["a", "b", "c"], ["a", "b", "d"], ["a", "e", "f"]])
    3
    >>> earliest_estimation_time([["a", "b", "c"], ["a", "b"]])
    2
    """
    shortest = min(len(p) for p in prefixes)
    longest = max(len(p) for p in prefixes)
    for t in range(1, longest + 1):
        if t >= shortest or len({tuple(p[:t]) for p in prefixes}) == len(prefixes):
            return t
    return 1


def buffer_window(c: int, tau: float, longest: int) -> range:
    """The steps whose votes count: the last τ = max(1, ⌊tau · c⌋) up to c + τ, or up to the
    longest sample where they all stopped sooner.

    >>> buffer_window(4, 1.0, 64), buffer_window(4, 1.0, 6), buffer_window(4, 0.5, 64)
    (range(5, 9), range(3, 7), range(5, 7))
    """
    tau_steps = max(1, int(tau * c))
    end = max(1, min(c + tau_steps, longest))
    return range(max(1, end - tau_steps + 1), end + 1)


def most_consistent(
    features: Sequence[Feature], distance: Callable[[Feature, Feature], float]
) -> int:
    """3) argmin over i of S_i = the mean distance of sample i to the others (ties: earliest).

    >>> most_consistent([0.2, 1.0, 1.1, 0.9], lambda a, b: (a - b) ** 2)
    3
    """
    n = len(features)
    scores = [
        sum(distance(features[i], features[j]) for j in range(n) if j != i) / max(n - 1, 1)
        for i in range(n)
    ]
    return min(range(n), key=lambda i: scores[i])


def text_distance(a: Sequence[str], b: Sequence[str]) -> float:
    """1 − the multiset Jaccard overlap of two prefixes' tokens (case and spaces ignored).

    >>> text_distance(["3", " *", " 12"], ["3", " *", " 13"]), text_distance([], [])
    (0.5, 0.0)
    """
    left = Counter(t.strip().lower() for t in a if t.strip())
    right = Counter(t.strip().lower() for t in b if t.strip())
    union = sum((left | right).values())
    return 1.0 - sum((left & right).values()) / union if union else 0.0


def _squared(a: float, b: float) -> float:
    return (a - b) ** 2


def self_estimate(
    prefixes: Sequence[Sequence[str]], tau: float, confidences: Sequence[Sequence[float]] | None
) -> Estimate:
    """2) + 3) + 4) c, the window, each step's most consistent sample, and the winner by
    votes: by token overlap, or (given each token's confidence) by mean confidence."""
    c = earliest_estimation_time(prefixes)
    window = buffer_window(c, tau, max(len(p) for p in prefixes))
    votes: list[int] = []
    for t in window:
        if confidences is None:
            votes.append(most_consistent([p[:t] for p in prefixes], text_distance))
        else:
            means = [sum(x[:t]) / len(x[:t]) if x else 0.0 for x in confidences]
            votes.append(most_consistent(means, _squared))
    tally = Counter(votes)
    winner = min(tally, key=lambda i: (-tally[i], i))  # the most votes, then the earliest
    return Estimate(c, window, tuple(votes), winner)


def _pieces(completion: Completion) -> list[str]:
    """The sample's tokens: as the engine named them, else from its logprobs, else words."""
    if completion.tokens is not None:
        return list(completion.tokens)
    if completion.logprobs:
        return [t.token for t in completion.logprobs]
    return _WORD.findall(completion.text)


def _confidences(drawn: Sequence[Completion], backend: str) -> list[list[float]]:
    """Each token's confidence C; refused where the engine returned too few alternatives
    (a sample that ended at once has no tokens, so none to judge by)."""
    said = [c.logprobs for c in drawn if c.logprobs]
    if not said or any(len(lp[0].top) < MIN_ALTERNATIVES for lp in said):
        raise ThinktimeError(
            f"st_bon with measure=confidence needs top-k logprobs and backend {backend!r} "
            "returned none; use measure=text or the llamacpp backend"
        )
    return [[token_confidence(t) for t in c.logprobs or ()] for c in drawn]


@register_strategy(
    "st_bon",
    "Self-truncation best-of-n: decode n samples a few tokens, finish only the one most "
    "consistent with the others early on.",
    "Wang et al. 2025, arXiv:2503.01422",
    StBonParams,
    samples=lambda p: p.n,  # the n early samples in one call
    drawn=lambda p: p.n + 1,  # and the winner's continuation
    facts=("c", "truncated"),
    continues_text=True,
)
def st_bon(question: str, ctx: Context, params: StBonParams) -> Outcome:
    prompt = ctx.chat_prompt(ctx.messages(question))
    # 1) n samples, each decoded to early_tokens, in one batched call
    early = ctx.params.with_(max_tokens=min(params.early_tokens, ctx.params.max_tokens))
    if params.measure == "confidence":
        early = early.with_(top_logprobs=TOP_LOGPROBS)
    [completions] = ctx.continue_text([prompt], n=params.n, params=early)
    # a sample the budget could not pay for came back empty at its length: it takes no part
    drawn = [c for c in completions if c.completion_tokens or c.finish_reason != "length"]
    if not drawn:
        return Outcome(None, (), details={"c": None, "truncated": 0})
    # 2)–4) the self-estimate: which sample is most consistent early on
    confidences = None
    if params.measure == "confidence":
        confidences = _confidences(drawn, ctx.ledger.backend.name)
    estimate = self_estimate([_pieces(c) for c in drawn], params.tau, confidences)
    chosen = drawn[estimate.winner]
    # 4) only the winner is finished, from its prefix, up to the caller's max_tokens
    text, tokens, finish = chosen.text, chosen.completion_tokens, chosen.finish_reason
    room = ctx.params.max_tokens - tokens
    if finish == "length" and room > 0 and not ctx.exhausted():
        rest_params = ctx.params.with_(max_tokens=room)
        [[rest]] = ctx.continue_text([prompt + text], params=rest_params)
        text, tokens, finish = text + rest.text, tokens + rest.completion_tokens, rest.finish_reason
    samples = tuple(
        Sample(text, extract_answer(text), finish, tokens, tokens)
        if i == estimate.winner
        else Sample(c.text, None, CUT, c.completion_tokens, c.completion_tokens)
        for i, c in enumerate(drawn)
    )
    answer = samples[estimate.winner].answer
    _, table = vote([answer])
    details = {
        "c": estimate.c,
        "window": [estimate.window.start, estimate.window.stop - 1],
        "step_votes": list(estimate.votes),
        "truncated": len(drawn) - 1,
        "early_tokens": sum(c.completion_tokens for c in drawn),
        "measure": params.measure,
    }
    return Outcome(answer, samples, table, estimate.winner, details)
