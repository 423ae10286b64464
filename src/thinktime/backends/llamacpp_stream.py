"""A llama.cpp call run streamed, so it can be stopped and watched, with the reply rebuilt.

xllamacpp's server asks a streamed request's callback after every chunk whether to go on; a
non-streamed request cannot be stopped. So calls that may be cancelled (a client left, the time
ran out) or whose text is wanted as it comes (`on_delta`) run streamed, and the chunks are put
back together into the reply the non-streamed call would have given: each choice's text (and
thinking, where the engine streams it apart as `reasoning_content`; tool calls, whose name
and arguments come in pieces), finish_reason and logprobs, and the usage of the final chunk.
A call stopped before its end gets no final chunk: its usage is then the prompt counts the
engine streamed as it started (`wire.STREAM_COUNTS`), so its prompt is billed all the same.

    >>> def engine(body, callback):  # a stand-in for the engine's handler: two chunks
    ...     callback({"choices": [{"index": 0, "delta": {"content": "4"}}]})
    ...     callback({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
    ...               "usage": {"prompt_tokens": 5, "completion_tokens": 2}})
    >>> seen = []
    >>> reply = streamed(engine, {"n": 1}, threading.Event(), lambda i, t: seen.append(t))
    >>> reply["choices"][0]["message"], reply["choices"][0]["finish_reason"], seen
    ({'content': '4'}, 'stop', ['4'])
"""

from __future__ import annotations

import threading
from typing import Any

from thinktime.backends.base import OnDelta, Watch
from thinktime.backends.wire import (
    STREAM_COUNTS,
    delta_reasoning,
    delta_text,
    stream_prompt_usage,
    token_logprob,
    usage_of,
)
from thinktime.types import CUT


def streamed(
    handler: Any,
    body: dict[str, Any],
    cancel: threading.Event,
    on_delta: OnDelta | None = None,
    watch: Watch | None = None,
) -> dict[str, Any]:
    """Run `body` streamed, stopping when `cancel` is set (or `watch` says so of a token: that
    choice then finishes as `CUT`; a watched body draws one choice, as the whole call stops);
    reassemble the non-streamed reply."""
    body = {**body, **STREAM_COUNTS, "stream": True, "stream_options": {"include_usage": True}}
    texts: dict[int, list[str]] = {}
    thoughts: dict[int, list[str]] = {}
    logprobs: dict[int, list[dict[str, Any]]] = {}
    finish: dict[int, str] = {}
    calls: dict[int, dict[int, dict[str, str]]] = {}  # choice → call index → id, name, arguments
    reply: dict[str, Any] = {}

    def on_chunk(chunk: dict[str, Any]) -> bool:
        if "error" in chunk:
            reply["error"] = chunk["error"]
        reply["usage"] = chunk.get("usage") or reply.get("usage")
        reply["counts"] = stream_prompt_usage(chunk) or reply.get("counts")
        for choice in chunk.get("choices", []):
            index = int(choice.get("index", 0))
            piece = delta_text(choice)
            texts.setdefault(index, []).append(piece)
            thoughts.setdefault(index, []).append(delta_reasoning(choice))
            items = (choice.get("logprobs") or {}).get("content") or []
            logprobs.setdefault(index, []).extend(items)
            try:
                if watch is not None and any(watch(index, token_logprob(i)) for i in items):
                    finish[index] = CUT
                    reply["cut"] = True
            except Exception as exc:  # the watch failed: stop, re-raise after the call
                reply["raised"] = exc
            for piece_of_call in (choice.get("delta") or {}).get("tool_calls") or ():
                _add_call_piece(calls.setdefault(index, {}), piece_of_call)
            if choice.get("finish_reason") and finish.get(index) != CUT:
                finish[index] = choice["finish_reason"]
            if on_delta is not None and piece and "raised" not in reply:
                try:
                    on_delta(index, piece)
                except Exception as exc:  # the listener failed: stop, re-raise after the call
                    reply["raised"] = exc
        return cancel.is_set() or "raised" in reply or "cut" in reply  # True: stop the call

    if not cancel.is_set():  # cancelled while queued for a worker: start nothing
        result = handler(body, on_chunk)
        if isinstance(result, dict) and "error" in result:  # refused before streaming
            reply["error"] = result["error"]
    if "raised" in reply:
        raise reply["raised"]
    if "error" in reply:
        return {"error": reply["error"]}
    asked = bool(body.get("logprobs"))
    choices = [
        {
            "message": _message(
                "".join(texts.get(i, [])), "".join(thoughts.get(i, [])), calls.get(i, {})
            ),
            "finish_reason": finish.get(i, "cancelled"),
            "logprobs": {"content": logprobs.get(i)} if asked and logprobs.get(i) else None,
        }
        for i in range(max(int(body.get("n", 1)), len(texts)))
    ]
    # a stopped call has no final usage: its prompt as the engine reported it on the way
    counts = reply.get("counts")
    usage = reply.get("usage") or (usage_of(counts) if counts else {})
    return {"choices": choices, "usage": usage}


def _add_call_piece(calls: dict[int, dict[str, str]], piece: dict[str, Any]) -> None:
    """Add one streamed piece of a tool call (its id and name come first, then arguments)."""
    call = calls.setdefault(int(piece.get("index", 0)), {"id": "", "name": "", "arguments": ""})
    function = piece.get("function") or {}
    call["id"] = call["id"] or str(piece.get("id") or "")
    call["name"] += str(function.get("name") or "")
    call["arguments"] += str(function.get("arguments") or "")


def _message(content: str, thinking: str, calls: dict[int, dict[str, str]]) -> dict[str, Any]:
    """A reassembled chat message, with the thinking the engine streamed apart and the tool
    calls it parsed (if any)."""
    message: dict[str, Any] = {"content": content}
    if thinking:
        message["reasoning_content"] = thinking
    if calls:
        message["tool_calls"] = [
            {"id": c["id"], "type": "function",
             "function": {"name": c["name"], "arguments": c["arguments"]}}
            for _, c in sorted(calls.items())
        ]  # fmt: skip
    return message
