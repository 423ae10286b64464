"""A per-request thinking cap on the embedded engine: llama.cpp's reasoning budget.

llama.cpp's sampler chain can hold a reasoning budget. Once the start tag has gone by (in the
tokens the model generates, or in the chat template's generation prompt), it counts the tokens
of thinking; at the cap it forces the end tag, and the model writes its answer after it in the
same request (`max_tokens` covers both). A request asks for it with `reasoning_budget_tokens`,
`reasoning_budget_start_tag` and `reasoning_budget_end_tags` (llama.cpp's server-schema.cpp).

The tags travel as text, which the engine tokenizes alone and then matches token by token. But a
model writing `<think>\\n` makes the tokens `<th`, `ink`, `>\\n` (Qwen's tokenizer merges the `>`
with the newline), which the tokens of `<think>` alone (`<th`, `ink`, `>`) never match; and
` </think>` begins with the token ` </`. So each tag is sent cut back to the tokens it keeps
whatever follows it (`<think`), and the end tag also in the forms a space or a full stop before
it makes; the first end tag is the one forced at the cap, written as a model writes it (on a
line of its own, a blank line after):

    >>> TOKENS = {"<think>": ("<th", "ink", ">"), "</think>": ("</", "think", ">"),
    ...           " </think>": (" </", "think", ">"), ".</think>": (".</", "think", ">")}
    >>> def tokenize(text):  # a stand-in for the engine's tokenizer
    ...     for tag, pieces in TOKENS.items():
    ...         if text.startswith(tag):
    ...             rest = text[len(tag):]
    ...             return pieces[:-1] + (pieces[-1] + rest,) if rest.isspace() else pieces
    ...     return tuple(text)
    >>> budget_fields(64, budget_tags(ThinkTags(), tokenize))  # doctest: +NORMALIZE_WHITESPACE
    {'reasoning_budget_tokens': 64, 'reasoning_budget_start_tag': '<think',
     'reasoning_budget_end_tags': ['\\n</think>\\n\\n', '</think>', '</think', ' </think',
                                   '.</think'],
     'reasoning_budget_message': ''}

One case gives the engine no start tag to see: a raw prompt (`/v1/completions`) that already
opened the thinking itself (it ends with `<think>\\n`), since the completions endpoint takes no
generation prompt. There the cap is forced as s1 does it (`force_end`): generate at most
the cap; if the sample was cut while thinking, append the end tag and continue the raw text for
the answer, within what is left of `max_tokens`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol

from thinktime.backends.base import OnDelta
from thinktime.backends.thinking import ThinkTags
from thinktime.errors import BackendError
from thinktime.sampling import SamplingParams
from thinktime.types import Completion, Request

Tokenize = Callable[[str], tuple[str, ...]]
# what a tag may be followed by when the model writes it; the tokens the tag keeps before any
# of them are the ones the engine can match
FOLLOWERS = ("", "\n", "\n\n", " ")
# what an end tag may follow, where the tokenizer merges it into the tag's first token
LEADERS = ("", " ", ".")


def matchable(tag: str, tokenize: Tokenize) -> str:
    """`tag` cut back to the tokens it keeps whatever follows it (see module docs)."""
    shared = list(tokenize(tag))
    for follower in FOLLOWERS[1:]:
        followed = tokenize(tag + follower)
        keep = 0
        while keep < min(len(shared), len(followed)) and shared[keep] == followed[keep]:
            keep += 1
        shared = shared[:keep]
    return "".join(shared) or tag


BudgetTags = tuple[str, tuple[str, ...]]
"""(start tag, end tags) as llama.cpp's reasoning budget is told them."""


def budget_tags(tags: ThinkTags | None, tokenize: Tokenize) -> BudgetTags | None:
    """(start tag, end tags) for llama.cpp's reasoning budget, as the model's tokens show them;
    the first end tag is the full one (forced at the cap). None for a model without tags."""
    if tags is None:
        return None
    ends = [tags.close]
    for leader in LEADERS:
        form = matchable(leader + tags.close, tokenize)
        if form not in ends:
            ends.append(form)
    return matchable(tags.open, tokenize), tuple(ends)


def budget_fields(cap: int, tags: BudgetTags | None, name: str = "") -> dict[str, Any]:
    """The request fields that cap thinking at `cap` tokens (the end tag forced bare)."""
    if tags is None:
        raise BackendError(
            f"{name} was given no think_tags, so it cannot cap thinking (max_thinking_tokens); "
            "set think_tags, or use strategy budget_forcing"
        )
    start, ends = tags
    # the forced end is the tag on a line of its own with the blank line a model writes after
    # it: a bare `</think>` leaves the tokens `</`,`think`,`>` where the model (Qwen's tokenizer)
    # always saw `>\n\n`, and the distilled student then wrote nothing, or went on thinking in
    # its answer; forced this way it answers (measured on qwen2.5-coder-0.5b-think, cap 32)
    return {
        "reasoning_budget_tokens": cap,
        "reasoning_budget_start_tag": start,
        "reasoning_budget_end_tags": [f"\n{ends[0]}\n\n", *ends],
        "reasoning_budget_message": "",  # what goes before the forced end tag: nothing
    }


def forcing(request: Request, params: SamplingParams, tags: ThinkTags | None) -> bool:
    """Whether a call's cap must be forced s1's way: a raw prompt that opened the thinking."""
    prompt, cap = request.prompt, params.max_thinking_tokens
    return (
        cap is not None and tags is not None and prompt is not None and thinking_open(prompt, tags)
    )


def thinking_open(prompt: str, tags: ThinkTags) -> bool:
    """Whether a raw prompt ends inside thinking it opened (its last open tag is unclosed).

    >>> thinking_open("<|im_start|>assistant\\n<think>\\n", ThinkTags())
    True
    >>> thinking_open("<think>a</think>b", ThinkTags()), thinking_open("2+3=", ThinkTags())
    (False, False)
    """
    return prompt.rfind(tags.open) > prompt.rfind(tags.close)


def closing(tags: ThinkTags) -> str:
    """What s1 appends to thinking cut at the cap, so the model answers next.

    >>> closing(ThinkTags())
    '\\n</think>\\n\\n'
    """
    return f"\n{tags.close}\n\n"


class Call(Protocol):
    """One engine call: (request, sampling, n, seed, on_delta) → (its usage, its completions)."""

    def __call__(
        self, request: Request, params: SamplingParams, n: int, seed: int | None, *,
        on_delta: OnDelta | None,
    ) -> tuple[dict[str, Any], list[Completion]]: ...  # fmt: skip


def force_end(
    call: Call,
    request: Request,
    params: SamplingParams,
    n: int,
    seed: int | None,
    tags: ThinkTags | None,
    on_delta: OnDelta | None = None,
) -> tuple[dict[str, Any], list[Completion]]:
    """`request` (a raw prompt whose thinking is open) with its thinking cut at
    `params.max_thinking_tokens`, s1's way; returns the usage of all its calls and the samples.

    Both phases are billed: a sample's completion tokens are what it generated in each (the
    appended end tag is not generated: it is prompt, prefilled again by the second call with
    the rest, most of it from the engine's cache), as `budget_forcing` bills its continuations.

    >>> def engine(request, params, n, seed, on_delta):  # a stand-in: thinks until cut
    ...     if request.prompt.endswith("</think>\\n\\n"):
    ...         return {"prompt_tokens": 9, "prompt_tokens_details": {"cached_tokens": 6}}, [
    ...             Completion("\\\\boxed{4}", "stop", 4)]
    ...     return {"prompt_tokens": 3}, [Completion("2+2 is", "length", params.max_tokens)]
    >>> capped = SamplingParams(max_tokens=64, max_thinking_tokens=3)
    >>> start = Request(prompt="<think>\\n")
    >>> usage, [c] = force_end(engine, start, capped, 1, None, ThinkTags())
    >>> c.text, c.completion_tokens, usage["prompt_tokens"], usage["prompt_tokens_details"]
    ('2+2 is\\n</think>\\n\\n\\\\boxed{4}', 7, 12, {'cached_tokens': 6})
    """
    assert request.prompt is not None and params.max_thinking_tokens is not None and tags
    # 1) think: at most the cap (or the whole max_tokens, if that is smaller)
    cap = min(params.max_thinking_tokens, params.max_tokens)
    thinking = params.with_(max_tokens=cap, max_thinking_tokens=None)
    usage, first = call(request, thinking, n, seed, on_delta=on_delta)
    usages, samples = [usage], []
    for k, sample in enumerate(first):
        room = params.max_tokens - sample.completion_tokens
        if sample.finish_reason != "length" or room <= 0:
            samples.append(sample)  # it ended on its own, or the caller's max_tokens is spent
            continue
        # 2) cut while thinking: close it, so the model answers; cut in its answer: go on
        appended = "" if tags.close in sample.text else closing(tags)
        if on_delta is not None and appended:
            on_delta(k, appended)
        more_usage, [more] = call(
            Request(prompt=request.prompt + sample.text + appended),
            params.with_(max_tokens=room, max_thinking_tokens=None),
            1,
            None if seed is None else seed + k,
            on_delta=None if on_delta is None else _renumbered(on_delta, k),
        )
        usages.append(more_usage)
        samples.append(_joined(sample, appended, more))
    return _summed(usages), samples


def _renumbered(on_delta: OnDelta, k: int) -> OnDelta:
    """`on_delta` for a one-sample call that continues sample `k` of the first."""
    return lambda _, text: on_delta(k, text)


def _joined(first: Completion, appended: str, more: Completion) -> Completion:
    """One sample made by two calls; its tokens are kept only where they spell all its text."""
    whole = first.tokens is not None and more.tokens is not None and not appended
    logprobs = first.logprobs is not None and more.logprobs is not None and not appended
    return replace(
        first,
        text=first.text + appended + more.text,
        finish_reason=more.finish_reason,
        completion_tokens=first.completion_tokens + more.completion_tokens,
        tokens=(*(first.tokens or ()), *(more.tokens or ())) if whole else None,
        logprobs=(*(first.logprobs or ()), *(more.logprobs or ())) if logprobs else None,
        reasoning_tokens=None,
    )


def _summed(usages: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The prompt counts of several calls as one usage: each call's prefill is billed."""
    prompt = sum(int(u.get("prompt_tokens") or 0) for u in usages)
    cached = sum(int((u.get("prompt_tokens_details") or {}).get("cached_tokens") or 0)
                 for u in usages)  # fmt: skip
    return {"prompt_tokens": prompt, "prompt_tokens_details": {"cached_tokens": cached}}
