"""The OpenAI wire codec: `Request` + `SamplingParams` → a chat/completions JSON body, and the
server's choices and usage → `Completion`s and token counts.

Both engines speak it: the embedded llama.cpp server takes these bodies as they are, and the
OpenAI-compatible backend sends them through the official client. A request with `prompt` is a
`/v1/completions` body (raw text to continue), one with `messages` a `/v1/chat/completions` body.

    >>> from thinktime.types import Message
    >>> body = request_body(Request(messages=(Message("user", "2+2?"),)), SamplingParams(), 2, 7)
    >>> body["n"], body["seed"], body["messages"], body["logprobs"]
    (2, 7, [{'role': 'user', 'content': '2+2?'}], False)
    >>> choice = {"message": {"content": "4"}, "finish_reason": "stop",
    ...           "logprobs": {"content": [{"token": "4", "logprob": -0.5}]}}
    >>> c = parse_choice(choice)
    >>> c.text, c.finish_reason, c.completion_tokens, c.tokens
    ('4', 'stop', 1, ('4',))

A reasoning model's thinking (in any of the dialects of `thinking.py`) is split off a chat
choice into `Completion.reasoning`; the text continuing a raw prompt is left as it is (the
caller wrote the prompt, thinking tags included, and continues it itself).

    >>> c = parse_choice({"message": {"content": "<think>5? no</think>4"}})
    >>> c.reasoning, c.text
    ('5? no', '4')
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from thinktime.backends.thinking import THINK, ThinkTags, message_thinking
from thinktime.backends.toolcalls import calls_text, read_wire_calls, wire_calls, wire_fields
from thinktime.sampling import SamplingParams
from thinktime.types import Completion, Generation, Message, Request, TokenLogprob


def request_body(
    request: Request, params: SamplingParams, n: int, seed: int | None
) -> dict[str, Any]:
    """The OpenAI-style JSON body for one call drawing `n` samples.

    >>> body = request_body(Request(prompt="2+3="), SamplingParams(stop=("\\n",)), 1, None)
    >>> body["prompt"], body["stop"], "seed" in body, "messages" in body
    ('2+3=', ['\\n'], False, False)
    >>> top3 = SamplingParams(top_logprobs=3)
    >>> request_body(Request(prompt="2+3="), top3, 1, None)["logprobs"]
    3
    >>> chat = request_body(Request(messages=(Message("user", "2+3?"),)), top3, 1, None)
    >>> chat["logprobs"], chat["top_logprobs"]
    (True, 3)
    """
    body: dict[str, Any] = {
        "n": n,
        "max_tokens": params.max_tokens,
        "temperature": params.temperature,
        "top_p": params.top_p,
        # logprobs cost a softmax over the whole vocabulary per token (~14% of decode at n=8
        # on CPU), so ask only when wanted; llama.cpp reads top_logprobs=0 as "no logprobs"
        "logprobs": params.logprobs or params.top_logprobs > 0,
    }
    if params.top_logprobs and request.prompt is not None:
        # raw text (`/v1/completions`): `logprobs` itself is the number of alternatives, and
        # llama.cpp reads `true` as one
        body["logprobs"] = params.top_logprobs
    elif params.top_logprobs:
        body["top_logprobs"] = params.top_logprobs
    if params.ignore_eos:
        body["ignore_eos"] = True
    if params.stop:
        body["stop"] = list(params.stop)
    if seed is not None:
        body["seed"] = seed
    if request.prompt is not None:
        body["prompt"] = request.prompt
    else:
        body["messages"] = [wire_message(m) for m in request.messages]
        body.update(wire_fields(request.reply_format))  # tools, tool_choice, response_format
    return body


def wire_message(message: Message) -> dict[str, Any]:
    """One turn in OpenAI's shape: an assistant's calls (content null when it said nothing
    else), a tool result with the id of the call it answers.

    >>> from thinktime.types import ToolCall
    >>> wire_message(Message("assistant", "", (ToolCall("c1", "f", "{}"),)))["content"] is None
    True
    >>> wire_message(Message("tool", "6", tool_call_id="c1"))
    {'role': 'tool', 'content': '6', 'tool_call_id': 'c1'}
    """
    turn: dict[str, Any] = {"role": message.role, "content": message.content}
    if message.tool_calls:
        turn["tool_calls"] = wire_calls(message.tool_calls)
        turn["content"] = message.content or None
    if message.tool_call_id is not None:
        turn["tool_call_id"] = message.tool_call_id
    return turn


def token_logprob(item: dict[str, Any]) -> TokenLogprob:
    """One entry of a choice's `logprobs.content`: the token, its logprob, its alternatives.

    >>> token_logprob({"token": "4", "logprob": -0.1, "top_logprobs": [{"token": "4",
    ...                "logprob": -0.1}, {"token": "5", "logprob": -2.5}]}).top[1]
    ('5', -2.5)
    """
    return TokenLogprob(
        token=item.get("token", ""),
        logprob=float(item.get("logprob", 0.0)),
        top=tuple(
            (alt.get("token", ""), float(alt.get("logprob", 0.0)))
            for alt in item.get("top_logprobs") or ()
        ),
    )


def _logprobs(choice: dict[str, Any]) -> tuple[TokenLogprob, ...] | None:
    """A choice's tokens with their logprobs: the chat shape (`content`), else the legacy
    `/v1/completions` shape (`tokens`, counted without logprobs), else None."""
    logprobs = choice.get("logprobs") or {}
    content = logprobs.get("content")
    if content is not None:
        return tuple(token_logprob(item) for item in content)
    legacy = logprobs.get("tokens")
    if legacy is not None:
        return tuple(TokenLogprob(token=str(t), logprob=0.0) for t in legacy)
    return None


def parse_choice(choice: dict[str, Any], tags: ThinkTags | None = THINK) -> Completion:
    """One OpenAI-shaped choice (chat or text) → `Completion`, counting its own tokens; a chat
    choice's thinking (a reasoning field, or the text between `tags`) goes to `reasoning`.

    Without logprobs a choice cannot be counted here: `completion_tokens` is then -1, and the
    caller counts it (with the model's tokenizer, or from the response's `usage`).

    >>> parse_choice({"text": "5", "finish_reason": "length"}).completion_tokens
    -1
    """
    if "message" in choice:
        reasoning, text = message_thinking(choice["message"], tags)
    else:
        reasoning, text = None, choice.get("text") or ""
    logprobs = _logprobs(choice)
    count = len(logprobs) if logprobs is not None else -1
    pieces = tuple(t.token for t in logprobs) if logprobs is not None else None
    finish = choice.get("finish_reason") or "stop"
    calls = read_wire_calls((choice.get("message") or {}).get("tool_calls"))
    return Completion(text, finish, count, logprobs, pieces, reasoning, tool_calls=calls)


def generated_text(choice: dict[str, Any]) -> str:
    """All a choice's model wrote, thinking first, for counting its tokens with a tokenizer.

    >>> generated_text({"message": {"reasoning_content": "hmm ", "content": "4"}})
    'hmm 4'
    >>> generated_text({"message": {"content": "<think>hmm</think>4"}})
    '<think>hmm</think>4'
    """
    if "message" not in choice:
        return str(choice.get("text") or "")
    message = choice["message"]
    thinking = message.get("reasoning") or message.get("reasoning_content") or ""
    calls = calls_text(read_wire_calls(message.get("tool_calls")))  # parsed by the engine
    return str(thinking) + str(message.get("content") or "") + calls


def delta_text(choice: dict[str, Any]) -> str:
    """The text one streamed chunk's choice adds (chat `delta.content`, or completions `text`).

    >>> delta_text({"delta": {"content": "4"}}), delta_text({"text": "5"}), delta_text({})
    ('4', '5', '')
    """
    return str((choice.get("delta") or {}).get("content") or choice.get("text") or "")


def delta_reasoning(choice: dict[str, Any]) -> str:
    """The thinking one streamed chunk's choice adds (`delta.reasoning`, the vLLM name, or
    `delta.reasoning_content`); empty for a model that thinks inside its content.

    >>> delta_reasoning({"delta": {"reasoning_content": "hm"}}), delta_reasoning({"text": "4"})
    ('hm', '')
    """
    delta = choice.get("delta") or {}
    return str(delta.get("reasoning") or delta.get("reasoning_content") or "")


def prompt_usage(usage: dict[str, Any] | None) -> tuple[int, int]:
    """(prompt_tokens, cached prompt tokens) from a response's `usage`; 0 where missing.

    >>> prompt_usage({"prompt_tokens": 9, "prompt_tokens_details": {"cached_tokens": 4}})
    (9, 4)
    >>> prompt_usage(None)
    (0, 0)
    """
    usage = usage or {}
    cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    return int(usage.get("prompt_tokens") or 0), int(cached or 0)


def piece_text(piece: str | list[int]) -> str:
    """A token's text; llama.cpp gives the raw bytes of a token that is not valid UTF-8 alone
    (part of a multi-byte character) as a list of ints — keep what decodes."""
    if isinstance(piece, str):
        return piece
    return bytes(piece).decode("utf-8", errors="ignore")


STREAM_COUNTS: dict[str, Any] = {"timings_per_token": True, "return_progress": True}
"""Body fields asking llama.cpp's server to put its prompt counts in a stream before the end:
`prompt_progress` (the prompt's tokens, how many came from the cache) while it prefills, and
`timings` (`cache_n` reused + `prompt_n` computed) with every token. Other servers ignore them.
vLLM and SGLang do the same with `stream_options.continuous_usage_stats` (a `usage` per chunk)."""


def stream_prompt_usage(chunk: dict[str, Any]) -> tuple[int, int] | None:
    """(prompt tokens, cached prompt tokens) as far as one streamed chunk reports them: its
    `usage` (the last chunk's, or any chunk's with vLLM's `continuous_usage_stats`), else
    llama.cpp's `prompt_progress`, else its `timings`; None where it says nothing. A stream
    stopped before its end never gets the final usage, so these are what count its prompt.

    >>> stream_prompt_usage({"prompt_progress": {"total": 38, "cache": 27, "processed": 27}})
    (38, 27)
    >>> stream_prompt_usage({"timings": {"cache_n": 37, "prompt_n": 1, "predicted_n": 2}})
    (38, 37)
    >>> stream_prompt_usage({"choices": []}) is None
    True
    """
    if chunk.get("usage"):
        return prompt_usage(chunk["usage"])
    progress = chunk.get("prompt_progress")
    if progress and progress.get("total"):  # the whole prompt the engine took on
        return int(progress["total"]), int(progress.get("cache") or 0)
    timings = chunk.get("timings")
    if timings and timings.get("prompt_n") is not None:
        cached = int(timings.get("cache_n") or 0)
        return cached + int(timings["prompt_n"]), cached
    return None


def usage_of(counts: tuple[int, int]) -> dict[str, Any]:
    """(prompt tokens, cached) as a response's `usage`, for a stream that never got its own.

    >>> prompt_usage(usage_of((38, 37)))
    (38, 37)
    """
    prompt, cached = counts
    return {"prompt_tokens": prompt, "prompt_tokens_details": {"cached_tokens": cached}}


def watched_generation(
    usages: Sequence[tuple[int, int] | None],
    completions: Sequence[Completion],
    known_length: int = 0,
) -> Generation:
    """One request's samples made as one-sample calls (a watched draw) as one `Generation`:
    every call prefilled the prompt (or took it from the cache), so each is charged its own.

    `usages` holds each call's (prompt tokens, cached) as its engine reported them, a stopped
    call's included (llama.cpp reports them as the stream starts, see `STREAM_COUNTS`); None
    where a call was stopped on a server that reports nothing before a stream's end. Such a
    call still processed the prompt: it is charged the prompt length a sibling reported, else
    `known_length` (what the server reported for this prompt before), none of it cached.

    >>> g = watched_generation([(40, 30), None], [Completion("4", "stop", 3)] * 2)
    >>> g.prompt_length, g.prompt_tokens, g.cached_prompt_tokens
    (40, 80, 30)
    >>> watched_generation([None, None], [Completion("4", "cut", 3)] * 2, 40).prompt_tokens
    80
    """
    reported = [usage for usage in usages if usage is not None]
    length = max((n for n, _ in reported), default=0) or known_length
    return Generation(
        tuple(completions),
        length,
        sum(n for n, _ in reported) + length * (len(usages) - len(reported)),
        sum(cached for _, cached in reported),
    )
