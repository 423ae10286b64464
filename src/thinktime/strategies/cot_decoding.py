"""`cot_decoding`: branch on the top-k first tokens, decode each greedily, keep the surest answer.

Greedy decoding often skips the reasoning; the paths that reason are frequently among the
alternatives for the *first* token, and a path that reasoned to its answer is surer of that
answer. So:
1) one call generates the first token with its top-k alternatives (`max_tokens=1`);
2) each of the k distinct first tokens starts a branch: the chat prompt, that token, then a
   greedy (temperature 0) continuation with each token's top-2 logprobs — all k branches in
   one batched call;
3) each path's confidence is its answer-token margin Δ = mean over the tokens of the final
   answer (`answers.extract.answer_span`) of p(top-1) − p(top-2) at that position (the first
   token's distribution where the answer starts there);
4) the answer is the path with the largest Δ (`aggregate`: the answer whose paths' Δ sum
   highest, the paper's branch aggregation). A path with no final answer has no Δ and is not
   chosen.
It needs a backend that renders its chat template, so a branch can be continued as raw text
(`ChatTemplating`: the embedded llamacpp engine), and that returns top-k logprobs; on any other
it is refused before it spends more than the first token. `prompt="plain"` sends the question
alone (the paper's setting, no instruction to reason); the default is thinktime's
chain-of-thought prompt, so the answer is boxed.

Unlike optillm's `cot_decoding.py` (local transformers models only), Δ is taken over the answer
span as the paper defines it (optillm averages the margin over every token of the path, one
position off from the token it scores), branches decode in one batch, and aggregation groups
equivalent answers rather than identical texts.

Reference: Wang & Zhou 2024, "Chain-of-Thought Reasoning Without Prompting", arXiv:2402.10200.

    >>> from thinktime.backends.fake import FakeBackend
    >>> from thinktime import solve
    >>> def script(request, index):  # the fake's alternative to a token t is "~t"
    ...     if request.prompt.endswith("~So"):
    ...         return " 36 - 10 = \\\\boxed{26}"
    ...     return "So maybe \\\\boxed{24}"
    >>> sure = lambda token: 0.2 if "24" in token else 5.0  # each token's scripted confidence
    >>> r = solve("apples?", backend=FakeBackend(script, confidence=sure),
    ...           strategy="cot_decoding", k=2)
    >>> r.answer, [b["token"] for b in r.details["branches"]]
    ('26', ['So', '~So'])
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from thinktime.answers.extract import answer_span
from thinktime.answers.voting import classes, vote
from thinktime.errors import ThinktimeError
from thinktime.strategies.base import Context, Outcome, as_sample, register_strategy
from thinktime.types import Completion, Sample, TokenLogprob

_SPECIAL = re.compile(r"^<\|.*\|>$")  # a control token (end of turn): no path starts there
MARGIN_ALTERNATIVES = 2  # p(top-1) − p(top-2) needs the two most likely tokens per position


class CotDecodingParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    k: int = Field(
        10, ge=1, le=20, description="First-token alternatives to branch on (the paper's k; "
        "engines return at most 20).",
    )  # fmt: skip
    aggregate: bool = Field(
        False, description="Pick the answer whose paths' margins sum highest, not the one "
        "path with the largest margin.",
    )  # fmt: skip
    prompt: Literal["step_by_step", "plain"] = Field(
        "step_by_step", description="step_by_step: thinktime's chain-of-thought prompt (the "
        "answer boxed); plain: the question alone, as in the paper.",
    )  # fmt: skip


def position_margin(token: TokenLogprob) -> float:
    """p(top-1) − p(top-2) at one position, from the engine's top alternatives (the token's own
    logprob alone where none came back: the runner-up is then taken as 0).

        >>> round(position_margin(TokenLogprob("5", -0.1, (("5", -0.1), ("6", -2.5)))), 3)
        0.823
    """
    alternatives = sorted((lp for _, lp in token.top), reverse=True) or [token.logprob]
    first, second = [*alternatives, -math.inf][:2]
    return math.exp(first) - math.exp(second)


def answer_margin(path: Sequence[TokenLogprob]) -> float | None:
    """Δ of a path: the mean margin of the tokens that overlap its final answer's characters;
    None when it has no answer.

        >>> top2 = lambda t, a, b: TokenLogprob(t, a, ((t, a), ("x", b)))
        >>> answer_margin([top2("so", -0.1, -3), top2(" 1", -0.5, -1), top2("2", -0.1, -4)])  # "12"
        0.5626
    """
    text = "".join(t.token for t in path)
    span = answer_span(text)
    if span is None:
        return None
    start = text.find(span.value, span.start)
    end = start + len(span.value)
    inside, offset = [], 0
    for token in path:
        if offset < end and offset + len(token.token) > start:
            inside.append(position_margin(token))
        offset += len(token.token)
    return round(sum(inside) / len(inside), 4) if inside else None


def _path(first: TokenLogprob, rest: Completion) -> Completion:
    """A branch as one completion: its first token followed by the greedy continuation."""
    return replace(
        rest,
        text=first.token + rest.text,
        completion_tokens=rest.completion_tokens + 1,
        logprobs=(first, *(rest.logprobs or ())),
        tokens=None if rest.tokens is None else (first.token, *rest.tokens),
    )


def _branches(first: TokenLogprob, k: int) -> list[tuple[str, float]]:
    """The k most likely distinct first tokens with their logprobs, most likely first."""
    seen: dict[str, float] = {}
    for token, logprob in sorted(first.top, key=lambda alt: -alt[1]):
        if token and not _SPECIAL.match(token) and token not in seen:
            seen[token] = logprob
    return list(seen.items())[:k]


@register_strategy(
    "cot_decoding",
    "Branch on the top-k first tokens, decode each greedily, keep the answer it is surest of.",
    "Wang & Zhou 2024, arXiv:2402.10200",
    CotDecodingParams,
    default_temperature=0.0,
    samples=lambda p: p.k,  # the k branches decode in one batched call
    drawn=lambda p: p.k + 1,  # and the first token before them
    facts=("margin",),
    tokens=lambda p: (1.0 + p.k, float(p.k)),  # the probe, then k prompts (a cached prefix)
    needs_logprobs=True,
    continues_text=True,
)
def cot_decoding(question: str, ctx: Context, params: CotDecodingParams) -> Outcome:
    plain = params.prompt == "plain"
    messages = ctx.conversation(question) if plain else ctx.messages(question)
    prompt = ctx.chat_prompt(messages)  # refused here, before any call, without a chat template
    greedy = ctx.params.with_(temperature=0.0)
    # 1) the first token and its top-k alternatives, in one one-token call
    [[probe]] = ctx.continue_text(
        [prompt], params=greedy.with_(max_tokens=1, top_logprobs=params.k)
    )
    if probe.completion_tokens == 0 or ctx.exhausted():  # the budget paid for nothing more
        return Outcome(
            None, (), details={"branches": [], "margin": None, "aggregate": params.aggregate}
        )
    first = probe.logprobs[0] if probe.logprobs else TokenLogprob("", 0.0)
    branches = _branches(first, params.k)
    if len(first.top) < min(params.k, MARGIN_ALTERNATIVES) or not branches:
        # with one alternative it would be greedy decoding under another name: refuse instead
        raise ThinktimeError(
            f"cot_decoding needs the first token's top-{params.k} logprobs from a raw-text "
            f"continuation and backend {ctx.ledger.backend.name!r} returned {len(first.top)}; "
            "use a backend that returns top_logprobs there"
        )
    # 2) every branch continued greedily from its first token, all in one batched call
    rest = greedy.with_(
        max_tokens=max(ctx.params.max_tokens - 1, 1), top_logprobs=MARGIN_ALTERNATIVES
    )
    outputs = ctx.continue_text([prompt + token for token, _ in branches], params=rest)
    samples: list[Sample] = []
    details: list[dict[str, Any]] = []
    for (token, logprob), [completion] in zip(branches, outputs, strict=True):
        # the path: its first token (with the first position's alternatives), then the rest
        path = _path(TokenLogprob(token, logprob, first.top), completion)
        # 3) its margin over the answer tokens
        margin = answer_margin(path.logprobs or ())
        sample = replace(as_sample(path), score=margin)
        samples.append(sample)
        details.append(
            {
                "token": token,
                "logprob": round(logprob, 4),
                "margin": margin,
                "answer": sample.answer,
            }
        )
    return _choose(samples, details, params.aggregate)


def _choose(samples: list[Sample], branches: list[dict[str, Any]], aggregate: bool) -> Outcome:
    """4) the path with the largest margin, or (`aggregate`) the surest path of the answer whose
    paths' margins sum highest; ties go to the more likely first token (the earlier branch)."""
    scored = [i for i, s in enumerate(samples) if s.answer is not None and s.score is not None]
    answers = [samples[i].answer if i in scored else None for i in range(len(samples))]
    margins = [samples[i].score or 0.0 if i in scored else 0.0 for i in range(len(samples))]
    winner, table = vote(answers, weights=margins)  # the margins summed per answer
    if aggregate and winner is not None:
        labels = classes(answers)
        scored = [i for i in scored if labels[i] == labels[answers.index(winner)]]
    chosen = max(scored, key=lambda i: margins[i], default=None)  # max keeps the earliest
    details = {
        "branches": branches,
        "margin": None if chosen is None else margins[chosen],
        "aggregate": aggregate,
    }
    answer = None if chosen is None else samples[chosen].answer
    return Outcome(answer, tuple(samples), table, chosen, details)
