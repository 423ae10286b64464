"""How sure a model was of a trace, read from its tokens' top-k logprobs (DeepConf, self-certainty).

1. token confidence (DeepConf, Fu et al. 2025, arXiv:2508.15260): at token i with top-k
   alternatives of log-probabilities l_1..l_k, C_i = −(1/k)·Σ_j l_j. A peaked distribution
   (one likely token, k−1 unlikely ones) gives a high C; a flat one a low C.
2. group confidence: the mean of C over a sliding window of `window` tokens ending at each token
   (a trace shorter than the window is one group, its mean).
3. per trace: `mean` C; `lowest_group` (the weakest stretch: what the online rule watches);
   `bottom10` (the mean of the lowest 10% of its groups); `tail` (the mean C of its last `tail`
   tokens, where the answer is written).
4. self-certainty (Kang et al. 2025, arXiv:2502.18581): per token KL(U ‖ p), the distance of the
   next-token distribution from uniform, averaged over the trace. Engines return only the top-k
   alternatives, so p is the top-k renormalised: KL = −log k − (1/k)·Σ_j log p̃_j.

The paper's window is 2,048 tokens for traces of ~10k+; GSM8K traces of a small model are
~250 tokens, so the default window here is 32 and the tail 64 (both parameters).

    >>> top = lambda *lp: TokenLogprob("x", lp[0], tuple(("x", v) for v in lp))
    >>> trace = [top(-0.1, -5.0, -9.0)] * 4 + [top(-1.0, -1.2, -1.5)] * 2
    >>> c = trace_confidence(trace, window=2, tail=2)
    >>> round(c.mean, 2), round(c.lowest_group, 2), round(c.tail, 2), len(c.per_token)
    (3.54, 1.23, 1.23, 6)
    >>> threshold([1.0, 2.0, 3.0, 4.0, 5.0], keep=90)  # keep 90%: the 10th percentile
    1.4
    >>> first_cut([5.0, 5.0, 1.0, 1.0, 5.0], window=2, cut_below=2.0)  # [1, 1] ends at token 4
    4
"""

from __future__ import annotations

import math
from array import array
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from thinktime.types import TokenLogprob

WINDOW = 32  # tokens per group (the paper's 2,048 scaled to ~250-token traces)
TAIL = 64  # tokens of the tail confidence
BOTTOM = 0.10  # share of the lowest groups in `bottom10`
MIN_ALTERNATIVES = 2  # top-k logprobs per token a confidence needs (k = 1 is surprisal)
Measure = Literal["mean", "lowest_group", "bottom10", "tail", "self_certainty"]
MEASURES: tuple[Measure, ...] = ("mean", "lowest_group", "bottom10", "tail", "self_certainty")


def token_confidence(token: TokenLogprob) -> float:
    """C_i = −mean of the top-k log-probabilities, k ≥ 2 (`MIN_ALTERNATIVES`): with one, the
    mean is the sampled token's own logprob, whose direction is surprisal, not confidence."""
    values = _alternatives(token)
    return -sum(values) / len(values)


def _alternatives(token: TokenLogprob) -> list[float]:
    if len(token.top) < MIN_ALTERNATIVES:
        raise ValueError(
            f"token confidence needs top-{MIN_ALTERNATIVES} logprobs or more; this token has "
            f"{len(token.top)}: draw with top_logprobs >= {MIN_ALTERNATIVES}"
        )
    return [lp for _, lp in token.top]


def token_self_certainty(token: TokenLogprob) -> float:
    """KL(uniform ‖ p̃) over the top-k alternatives renormalised (k ≥ 2)."""
    values = _alternatives(token)
    k = len(values)
    top = max(values)
    log_mass = top + math.log(sum(math.exp(v - top) for v in values))  # log Σ p_j
    return -math.log(k) - sum(v - log_mass for v in values) / k


def group_confidences(per_token: Sequence[float], window: int = WINDOW) -> list[float]:
    """Mean confidence of every `window`-token stretch (the whole trace if it is shorter)."""
    if not per_token:
        return []
    if len(per_token) <= window:
        return [sum(per_token) / len(per_token)]
    groups, running = [], sum(per_token[:window])
    groups.append(running / window)
    for i in range(window, len(per_token)):  # slide: add token i, drop token i − window
        running += per_token[i] - per_token[i - window]
        groups.append(running / window)
    return groups


@dataclass(frozen=True)
class TraceConfidence:
    """One trace's confidence summaries (see the module docs), and each token's C."""

    mean: float
    lowest_group: float
    bottom10: float
    tail: float
    self_certainty: float
    per_token: tuple[float, ...] = field(default=(), repr=False, compare=False)

    def measure(self, name: Measure) -> float:
        """The summary called `name` (a strategy's `measure` parameter)."""
        return float(getattr(self, name))


def summarize(
    per_token: Sequence[float],
    self_certainty: float = 0.0,
    window: int = WINDOW,
    tail: int = TAIL,
) -> TraceConfidence:
    """The summaries of a trace from its tokens' confidences (replays re-window stored ones)."""
    if not per_token:
        return TraceConfidence(0.0, 0.0, 0.0, 0.0, self_certainty, ())
    groups = sorted(group_confidences(per_token, window))
    lowest = groups[: max(1, math.ceil(BOTTOM * len(groups)))]
    end = per_token[-tail:]
    return TraceConfidence(
        mean=sum(per_token) / len(per_token),
        lowest_group=groups[0],
        bottom10=sum(lowest) / len(lowest),
        tail=sum(end) / len(end),
        self_certainty=self_certainty,
        per_token=tuple(per_token),
    )


def trace_confidence(
    tokens: Sequence[TokenLogprob], window: int = WINDOW, tail: int = TAIL
) -> TraceConfidence:
    """The confidence summaries of one generated trace."""
    certainty = [token_self_certainty(t) for t in tokens]
    return summarize(
        [token_confidence(t) for t in tokens],
        sum(certainty) / len(certainty) if certainty else 0.0,
        window,
        tail,
    )


def threshold(lowest_groups: Sequence[float], keep: float) -> float:
    """DeepConf's online threshold, defined one way: the (100 − keep)-th percentile (linear
    interpolation, numpy's default) of the warm-up traces' lowest group confidences. A later
    trace is kept while every window stays at or above it, so about `keep`% of traces like the
    warm-up ones survive: keep=10 is DeepConf-low (aggressive), keep=90 DeepConf-high."""
    if not lowest_groups:
        raise ValueError("threshold needs at least one warm-up trace")
    values = sorted(lowest_groups)
    position = (100.0 - keep) / 100.0 * (len(values) - 1)
    below = math.floor(position)
    above = min(below + 1, len(values) - 1)
    return values[below] + (values[above] - values[below]) * (position - below)


class GroupWatch:
    """Feeds one trace's tokens in order; says when its window confidence first drops below
    `cut_below` (checked once `window` tokens are in: a shorter trace is never cut)."""

    def __init__(self, window: int, cut_below: float) -> None:
        self.window = window
        self.cut_below = cut_below
        self._last: deque[float] = deque(maxlen=window)
        self._sum = 0.0

    def add(self, confidence: float) -> bool:
        """Add token i's confidence; True: stop this trace now."""
        if len(self._last) == self.window:
            self._sum -= self._last[0]
        self._last.append(confidence)
        self._sum += confidence
        return len(self._last) == self.window and self._sum / self.window < self.cut_below


def first_cut(per_token: Sequence[float], window: int, cut_below: float) -> int | None:
    """Tokens the online rule lets a stored trace spend before stopping it (None: not cut)."""
    watch = GroupWatch(window, cut_below)
    for i, confidence in enumerate(per_token):
        if watch.add(confidence):
            return i + 1
    return None


def keep_confident(scores: Sequence[float], keep: float) -> list[int]:
    """Indices of the scores at or above their (100 − keep)-th percentile, in drawn order: the
    offline filter, with the same threshold as online (so keep=90 keeps 14 of 16 distinct
    scores, not ⌈0.9 · 16⌉ = 15; keep=10 keeps 2); ties at the threshold all stay."""
    if not scores:
        return []
    cut = threshold(scores, keep)
    return [i for i, score in enumerate(scores) if score >= cut]


def pack(per_token: Sequence[float]) -> bytes:
    """Token confidences as float32 bytes (how a store keeps them)."""
    return array("f", per_token).tobytes()


def unpack(blob: bytes | None) -> tuple[float, ...]:
    """The inverse of `pack` (an empty tuple for a sample stored without confidences)."""
    values = array("f")
    values.frombytes(blob or b"")
    return tuple(values)
