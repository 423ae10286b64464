"""Inspect's chat in, thinktime's `Result` out: the two mappings the provider makes per call.

In: the conversation splits as `thinktime serve` splits a chat request — the last user turn is
the question, the turns before it the history (system prompts included), the turns after it an
agent's calls and their results; Inspect's tools and response schema become a `ReplyFormat`,
its generate config (`--max-tokens`, `--temperature`, `--top-p`, `--seed`, `--stop-seqs`,
`--reasoning-tokens`) the `SamplingParams`, leaving unset what Inspect left unset (so each
strategy keeps its own temperature).

Out: the answer is the completion, and the text it came from is the message's reasoning (what
Inspect's viewer shows folded); the bill becomes `ModelUsage` and the whole result — votes,
samples, bill — the output's `metadata["thinktime"]`:

    >>> from thinktime.types import Bill
    >>> usage = model_usage(Bill(prompt_tokens=40, cached_prompt_tokens=30,
    ...                          completion_tokens=12, reasoning_tokens=9, dollars=0.5))
    >>> usage.input_tokens, usage.input_tokens_cache_read, usage.output_tokens, usage.total_cost
    (10, 30, 12, 0.5)
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from inspect_ai.model import (
    ChatCompletionChoice,
    ChatMessage,
    ChatMessageAssistant,
    ChatMessageTool,
    Content,
    ContentReasoning,
    ContentText,
    GenerateConfig,
    ModelOutput,
    ModelUsage,
    StopReason,
)
from inspect_ai.tool import ToolCall as InspectToolCall
from inspect_ai.tool import ToolChoice as InspectToolChoice
from inspect_ai.tool import ToolFunction, ToolInfo

from thinktime.errors import ThinktimeError
from thinktime.render import result_json
from thinktime.sampling import SamplingParams, sampling_params
from thinktime.strategies import get_strategy
from thinktime.types import Bill, Message, ReplyFormat, Result, ToolCall, ToolChoice

Conversation = tuple[str, tuple[Message, ...], tuple[Message, ...]]


# ---------------------------------------------------------------- Inspect → thinktime


def conversation(messages: Sequence[ChatMessage]) -> Conversation:
    """(the question: the last user turn, the turns before it, the turns after it)."""
    turns = tuple(_message(m) for m in messages)
    users = [i for i, turn in enumerate(turns) if turn.role == "user"]
    if not users:
        raise ThinktimeError("the conversation has no user message; thinktime answers a question")
    last = users[-1]
    return turns[last].content, turns[:last], turns[last + 1 :]


def _message(message: ChatMessage) -> Message:
    if not isinstance(message.content, str):
        kinds = {c.type for c in message.content} - {"text", "reasoning"}
        if kinds:
            raise ThinktimeError(
                f"a {message.role} message holds {', '.join(sorted(kinds))} content; "
                "thinktime models take text only"
            )
    if isinstance(message, ChatMessageAssistant):
        calls = tuple(
            ToolCall(c.id, c.function, json.dumps(c.arguments)) for c in message.tool_calls or ()
        )
        return Message("assistant", message.text, calls)
    if isinstance(message, ChatMessageTool):
        text = message.text or (message.error.message if message.error else "")
        return Message("tool", text, tool_call_id=message.tool_call_id)
    return Message(message.role, message.text)


def reply_format(
    tools: Sequence[ToolInfo], choice: InspectToolChoice, config: GenerateConfig
) -> ReplyFormat | None:
    """The tools (OpenAI's function shape) and JSON schema the reply is held to; None if none."""
    schema = config.response_schema
    if not tools and schema is None:
        return None
    functions = tuple(
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description,
                "parameters": tool.parameters.model_dump(exclude_none=True),
            },
        }
        for tool in tools
    )
    how: ToolChoice = "auto"
    forced = None
    if isinstance(choice, ToolFunction):
        how, forced = "required", choice.name
    elif choice == "any":
        how = "required"
    elif choice == "none":
        how = "none"
    response = None
    if schema is not None:
        wire: dict[str, Any] = {
            "name": schema.name,
            "schema": schema.json_schema.model_dump(exclude_none=True),
        }
        if schema.strict is not None:
            wire["strict"] = schema.strict
        response = {"type": "json_schema", "json_schema": wire}
    parallel = config.parallel_tool_calls is not False
    return ReplyFormat(functions, how, forced, parallel, response)


def sampling(config: GenerateConfig) -> SamplingParams:
    """The sampling fields Inspect set; unset ones stay unset (the strategy's own apply)."""
    values: dict[str, Any] = {
        "max_tokens": config.max_tokens,
        "temperature": config.temperature,
        "top_p": config.top_p,
        "seed": config.seed,
        "stop": tuple(config.stop_seqs) if config.stop_seqs else None,
        "max_thinking_tokens": config.reasoning_tokens,
    }
    return sampling_params(**{k: v for k, v in values.items() if v is not None})


# ---------------------------------------------------------------- thinktime → Inspect


def model_output(result: Result, model: str) -> ModelOutput:
    """The Inspect output of one answered `generate` (the same choices as `thinktime serve`:
    the extracted answer as content, the text it came from as reasoning; the model's own
    message for a replying strategy or when no answer was extracted)."""
    chosen = result.samples[result.chosen] if result.chosen is not None else None
    thinking = chosen.reasoning if chosen is not None else None
    calls = chosen.tool_calls if chosen is not None else ()
    if calls or result.answer is None or get_strategy(result.strategy).replies:
        text, worked = result.text, thinking
    else:
        text = result.answer
        worked = "\n\n".join(part for part in (thinking, result.text) if part) or None
    content: list[Content] = [ContentReasoning(reasoning=worked)] if worked else []
    content.append(ContentText(text=text))
    message = ChatMessageAssistant(
        content=content,
        model=model,
        source="generate",
        tool_calls=[_tool_call(call) for call in calls] or None,
    )
    shown = result.samples if chosen is None else (chosen,)
    cut = result.budget_limited or any(s.finish_reason in ("length", "cancelled") for s in shown)
    stop: StopReason = "max_tokens" if cut else "tool_calls" if calls else "stop"
    data = result_json(result)
    del data["question"]  # it is the sample's input already
    return ModelOutput(
        model=model,
        choices=[ChatCompletionChoice(message=message, stop_reason=stop)],
        usage=model_usage(result.bill),
        metadata={"thinktime": data},
    )


def model_usage(bill: Bill) -> ModelUsage:
    """The bill as Inspect's usage: `input_tokens` excludes the prompt tokens the engine reused
    from its cache (Inspect's convention; they are `input_tokens_cache_read`), `total_cost` is
    the bill's dollars."""
    return ModelUsage(
        input_tokens=bill.prompt_tokens - bill.cached_prompt_tokens,
        output_tokens=bill.completion_tokens,
        total_tokens=bill.total_tokens,
        input_tokens_cache_read=bill.cached_prompt_tokens or None,
        reasoning_tokens=bill.reasoning_tokens,
        total_cost=bill.dollars,
    )


def _tool_call(call: ToolCall) -> InspectToolCall:
    try:
        arguments = json.loads(call.arguments or "{}")
    except json.JSONDecodeError as exc:
        return InspectToolCall(call.id, call.name, {}, parse_error=str(exc))
    if not isinstance(arguments, dict):
        return InspectToolCall(call.id, call.name, {}, parse_error="arguments are not an object")
    return InspectToolCall(call.id, call.name, arguments)
