"""Reasoning models that think in the open: where a reply's thinking ends and its answer begins.

Servers hand back a reasoning model's thinking in one of three dialects:
1. inside `content`, between delimiters (R1 distills, QwQ, Qwen3: `<think>…</think>`), with the
   open tag sometimes written by the chat template instead of the model (only `</think>` shows);
2. in `message.reasoning` (vLLM with a reasoning parser, its current name);
3. in `message.reasoning_content` (older vLLM, SGLang, the DeepSeek API, llama.cpp's server).
Streamed deltas carry `reasoning` / `reasoning_content` the same way. Whatever the dialect, a
choice becomes (thinking, visible text): the answer is looked for only in the visible text, so
a `\\boxed{}` tried and dropped while thinking is never taken for the answer. An open tag never
closed means the model was cut off while thinking: it is all thinking, and there is no answer.

The delimiters are a per-model setting (`ThinkTags`), given to a backend as its `think_tags`
option; `None` turns the content dialect off (a model that writes the tags literally).

    >>> split_thinking("<think>2+2 is 5? no, \\\\boxed{5} is wrong</think>\\n\\n\\\\boxed{4}")
    ('2+2 is 5? no, \\\\boxed{5} is wrong', '\\\\boxed{4}')
    >>> split_thinking("<think>still counting: 1, 2, 3")  # cut off while thinking
    ('still counting: 1, 2, 3', '')
    >>> split_thinking("no thinking here: 4")
    (None, 'no thinking here: 4')
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ThinkTags(BaseModel):
    """The delimiters a model writes around its thinking at the start of its reply.

    >>> ThinkTags(open="<|begin_of_thought|>", close="<|end_of_thought|>").close
    '<|end_of_thought|>'
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    open: str = Field("<think>", min_length=1, description="Where the thinking starts.")
    close: str = Field("</think>", min_length=1, description="Where the thinking ends.")


THINK = ThinkTags()  # R1 distills, QwQ, Qwen3 and most open reasoning models


def split_thinking(content: str, tags: ThinkTags | None = THINK) -> tuple[str | None, str]:
    """(thinking, visible text) of a reply that may think between `tags` at its start.

    Thinking is None when the reply has none; the visible text is what follows it (leading
    blank lines dropped), so it is always the end of what the model wrote.

    >>> split_thinking("pondering...</think>4")  # the chat template wrote the open tag
    ('pondering...', '4')
    >>> split_thinking("<think>x</think>4", tags=None)
    (None, '<think>x</think>4')
    """
    if tags is None:
        return None, content
    # 1) the model opened its thinking itself: it runs to the close tag, or to the end if cut off
    body = content.lstrip()
    if body.startswith(tags.open):
        thinking, closed, rest = body[len(tags.open) :].partition(tags.close)
        return thinking.strip(), rest.lstrip() if closed else ""
    # 2) the prompt opened it (R1's template ends with the open tag): only the close shows
    thinking, closed, rest = content.partition(tags.close)
    if closed:
        return thinking.strip(), rest.lstrip()
    return None, content


def message_thinking(
    message: dict[str, Any], tags: ThinkTags | None = THINK
) -> tuple[str | None, str]:
    """(thinking, visible text) of a chat `message` in any of the three dialects.

    A reasoning parser's field wins; without one the content is split at `tags`.

    >>> message_thinking({"reasoning": "2+2=4", "content": "4"})
    ('2+2=4', '4')
    >>> message_thinking({"reasoning_content": "hmm", "content": None})  # cut off while thinking
    ('hmm', '')
    >>> message_thinking({"content": "<think>hmm</think>4"})
    ('hmm', '4')
    """
    content = str(message.get("content") or "")
    thinking = message.get("reasoning") or message.get("reasoning_content")
    if thinking:
        return str(thinking), content.lstrip()
    return split_thinking(content, tags)


def reasoning_usage(usage: dict[str, Any] | None) -> int | None:
    """The server's count of thinking tokens (`completion_tokens_details.reasoning_tokens`).

    >>> reasoning_usage({"completion_tokens_details": {"reasoning_tokens": 120}})
    120
    >>> reasoning_usage({"completion_tokens": 9}) is None
    True
    """
    details = (usage or {}).get("completion_tokens_details") or {}
    figure = details.get("reasoning_tokens")
    return None if figure is None else int(figure)
