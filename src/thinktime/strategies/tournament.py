"""`tournament`: draw n solutions, let the model compare them two at a time, keep the winner.

Instead of scoring each candidate alone (best-of-n with a judge), the model reads two solutions
side by side and says which one's final answer is correct (`prompts.compare_messages`):
1) n candidates are drawn in one batched call (or made by another strategy: `sampler=`);
2) the pairs of a round are compared, every comparison of the round in one batched call. A
   comparison's preference is P(A) / (P(A) + P(B)) from the reply's first letter's top-5
   logprobs where the engine returns them, else 1 / 0 / 0.5 from the letter it wrote. With
   `comparisons=2` (the default) each pair is shown in both orders and the preferences
   averaged, so a model that favours a position (always "A") cannot decide a match by it;
3) a pair needs no call when its answers are equivalent (a draw) or one has no final answer
   (the other wins);
4) `mode=knockout`: candidates meet in drawn order (0–1, 2–3, …), winners advance; an odd one
   out gets a bye and plays first in the next round, so no candidate gets two byes in a row.
   `mode=round_robin`: every pair meets once (one round, one call); the most wins is the
   champion (a draw counts half).
A drawn match (preference exactly 0.5) and a tie in wins go to the candidate whose answer more
candidates reached (the vote count), then to the earlier one. Out of budget before a round, the
champion is chosen that way among those still in. Comparisons are billed as verifier calls.

optillm's GenSelect (`plugins/genselect_plugin.py`) names a tournament mode but falls back to
its batch mode (all n candidates in one prompt, the model names the best); here the pairwise
comparisons are what run, with the logprobs of the letters where the engine gives them.

Reference: Moshkov et al. 2025, "AIMO-2 Winning Solution: Building State-of-the-Art Mathematical
Reasoning Models with OpenMathReasoning dataset" (GenSelect), arXiv:2504.16891; Liu et al. 2024,
"Aligning with Human Judgement: The Role of Pairwise Preference in Large Language Model
Evaluators" (PairS), arXiv:2403.16950.

    >>> from thinktime.backends.fake import FakeBackend
    >>> from thinktime import solve
    >>> def script(request, index):
    ...     if request.messages[0].content.startswith("You compare"):  # the model compares
    ...         first = request.messages[1].content.split("Solution B")[0]
    ...         return "A" if "26" in first else "B"
    ...     return ["\\\\boxed{24}", "\\\\boxed{26}", "\\\\boxed{25}"][index % 3]
    >>> r = solve("apples?", backend=FakeBackend(script), strategy="tournament", n=3)
    >>> r.answer, [m["pair"] for rnd in r.details["rounds"] for m in rnd["matches"]]
    ('26', [[0, 1], [2, 1]])
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from pydantic import Field

from thinktime.answers.voting import classes, vote
from thinktime.prompts import compare_messages
from thinktime.sampling import SamplingParams
from thinktime.strategies.base import Context, Outcome, draw_total, draw_width, register_strategy
from thinktime.strategies.sampler import SamplerParams
from thinktime.types import Completion, Request, Sample

TOP_LOGPROBS = 5  # alternatives read for the letter (both A and B are nearly always among them)
_LETTER = re.compile(r"\b([AB])\b")


class TournamentParams(SamplerParams):
    n: int = Field(8, ge=2, le=64, description="Candidate solutions to draw and compare.")
    mode: Literal["knockout", "round_robin"] = Field(
        "knockout", description="knockout: winners advance (n − 1 matches); round_robin: every "
        "pair meets once (n(n − 1)/2 matches), most wins.",
    )  # fmt: skip
    comparisons: int = Field(
        2, ge=1, le=8, description="Comparisons per match, alternating which candidate is shown "
        "first (2: both orders, which cancels a preference for a position).",
    )  # fmt: skip
    compare_tokens: int = Field(
        4, ge=1, le=512, description="Most tokens of each comparison's reply (a letter).",
    )  # fmt: skip


@dataclass(frozen=True)
class Match:
    first: int  # candidate indices, in bracket order
    second: int
    preference: float  # P(first beats second): the mean over its comparisons
    compared: bool  # False: settled without a call (equivalent answers, or a missing one)

    def winner(self, votes: Sequence[int]) -> int:
        """Who advances: the preferred one; on a draw more votes, then the earlier one."""
        if self.preference != 0.5:
            return self.first if self.preference > 0.5 else self.second
        return min(self.first, self.second, key=lambda i: (-votes[i], i))

    def record(self, votes: Sequence[int], draws: bool = False) -> dict[str, Any]:
        """The match as `details` keeps it; with `draws` a drawn match has no winner."""
        drawn = draws and self.preference == 0.5
        return {
            "pair": [self.first, self.second],
            "preference": round(self.preference, 4),
            "winner": None if drawn else self.winner(votes),
            "compared": self.compared,
        }


def prefers_first(completion: Completion) -> float:
    """P(A) / (P(A) + P(B)) from the first token whose alternatives hold either letter, else
    the first letter of the text (A: 1, B: 0), else 0.5.

        >>> from thinktime.types import TokenLogprob
        >>> letter = TokenLogprob("A", -0.2, (("A", -0.2), ("B", -1.8)))
        >>> round(prefers_first(Completion("A", "stop", 1, (letter,))), 3)
        0.832
        >>> prefers_first(Completion("Solution B.", "stop", 3))
        0.0
    """
    for token in completion.logprobs or ():
        mass = {"A": 0.0, "B": 0.0}
        for text, logprob in (*token.top, (token.token, token.logprob)):
            letter = text.strip().strip(".,:;*'\"()[]")
            if letter in mass:
                mass[letter] = max(mass[letter], math.exp(logprob))
        if mass["A"] + mass["B"] > 0:
            return mass["A"] / (mass["A"] + mass["B"])
    found = _LETTER.search(completion.text)
    return 0.5 if found is None else {"A": 1.0, "B": 0.0}[found.group(1)]


def _settled(labels: Sequence[int | None], i: int, j: int) -> float | None:
    """The preference of a match decided without a call; None where it needs one."""
    if labels[i] == labels[j]:  # equivalent answers (or neither has one): a draw
        return 0.5
    if labels[i] is None or labels[j] is None:  # an answer beats no answer
        return 0.0 if labels[i] is None else 1.0
    return None


def play(
    question: str,
    ctx: Context,
    samples: Sequence[Sample],
    pairs: Sequence[tuple[int, int]],
    params: TournamentParams,
) -> list[Match]:
    """The matches of one round: every comparison it needs in one batched call."""
    labels = classes([s.answer for s in samples])
    settled = [_settled(labels, i, j) for i, j in pairs]
    # each open pair is shown `comparisons` times, the order swapped every other time
    shown = [
        (index, swap)
        for index, pref in enumerate(settled)
        if pref is None
        for swap in (c % 2 == 1 for c in range(params.comparisons))
    ]
    requests = []
    for index, swap in shown:
        first, second = pairs[index][::-1] if swap else pairs[index]
        messages = compare_messages(question, samples[first].text, samples[second].text)
        requests.append(Request(messages=messages))
    asked = SamplingParams(
        temperature=0.0, max_tokens=params.compare_tokens, top_logprobs=TOP_LOGPROBS
    )
    replies = ctx.ledger.generate(requests, asked, purpose="verify") if requests else []
    heard: dict[int, list[float]] = {}
    for (index, swap), reply in zip(shown, replies, strict=True):
        a = prefers_first(reply.completions[0]) if reply.completions else 0.5
        heard.setdefault(index, []).append(1.0 - a if swap else a)
    return [
        Match(i, j, pref, False) if pref is not None else Match(i, j, _mean(heard[k]), True)
        for k, ((i, j), pref) in enumerate(zip(pairs, settled, strict=True))
    ]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values)


def knockout(
    question: str, ctx: Context, samples: Sequence[Sample], params: TournamentParams
) -> tuple[list[int], list[dict[str, Any]], list[float]]:
    """The contenders left (one, unless the budget ran out), the rounds, each one's wins."""
    votes = _votes(samples)
    contenders, rounds, wins = list(range(len(samples))), [], [0.0] * len(samples)
    while len(contenders) > 1 and not ctx.exhausted():
        pairs = list(zip(contenders[0::2], contenders[1::2], strict=False))
        bye = contenders[-1] if len(contenders) % 2 else None
        matches = play(question, ctx, samples, pairs, params)
        winners = [m.winner(votes) for m in matches]
        for winner in winners:
            wins[winner] += 1
        rounds.append({"matches": [m.record(votes) for m in matches], "bye": bye})
        # the bye plays first next round, so no one gets two in a row
        contenders = ([bye] if bye is not None else []) + winners
    return contenders, rounds, wins


def round_robin(
    question: str, ctx: Context, samples: Sequence[Sample], params: TournamentParams
) -> tuple[list[int], list[dict[str, Any]], list[float]]:
    """Every pair once, in one round; the contenders left are those with the most wins."""
    votes = _votes(samples)
    everyone = list(range(len(samples)))
    if ctx.exhausted():
        return everyone, [], [0.0] * len(samples)
    pairs = [(i, j) for i in everyone for j in everyone if i < j]
    matches = play(question, ctx, samples, pairs, params)
    wins = [0.0] * len(samples)
    for m in matches:
        wins[m.first] += 1.0 if m.preference > 0.5 else 0.5 if m.preference == 0.5 else 0.0
        wins[m.second] += 1.0 if m.preference < 0.5 else 0.5 if m.preference == 0.5 else 0.0
    most = max(wins)
    leaders = [i for i in everyone if wins[i] == most]
    return leaders, [{"matches": [m.record(votes, draws=True) for m in matches], "bye": None}], wins


def _matches(params: TournamentParams) -> int:
    """Matches played at most: n − 1 in a knockout, every pair in a round robin."""
    n = params.n
    return n - 1 if params.mode == "knockout" else n * (n - 1) // 2


def _votes(samples: Sequence[Sample]) -> list[int]:
    """How many candidates reached each candidate's answer (0 for none)."""
    labels = classes([s.answer for s in samples])
    return [0 if label is None else labels.count(label) for label in labels]


@register_strategy(
    "tournament",
    "Draw n solutions; the model compares them in pairs (knockout or round robin).",
    "Moshkov et al. 2025, arXiv:2504.16891",
    TournamentParams,
    samples=lambda p: draw_width(p.n, p.sampler, p.inner_params),
    drawn=lambda p: draw_total(p.n, p.sampler, p.inner_params),
    facts=("comparisons",),
    tokens=lambda p: (1.0 + _matches(p) * p.comparisons, float(p.n)),  # replies: a letter
)
def tournament(question: str, ctx: Context, params: TournamentParams) -> Outcome:
    # 1) the candidates, in one batched call
    samples = ctx.draw(question, params.n, params.sampler, params.inner_params)
    # 2)–4) the bracket, each round's comparisons in one batched call
    run = knockout if params.mode == "knockout" else round_robin
    left, rounds, wins = run(question, ctx, samples, params)
    votes = _votes(samples)
    champion = min(left, key=lambda i: (-votes[i], i))  # one left, or ties: most votes
    scored = tuple(replace(s, score=w) for s, w in zip(samples, wins, strict=True))
    _, table = vote([s.answer for s in samples])
    compared = sum(m["compared"] for r in rounds for m in r["matches"])
    details = {
        "mode": params.mode,
        "rounds": rounds,
        "wins": wins,
        "champion": champion,
        "comparisons": compared * params.comparisons,
    }
    answer = samples[champion].answer
    return Outcome(answer, scored, table, champion if answer is not None else None, details)
