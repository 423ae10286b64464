"""The chat API's request shape, OpenAI's names meaning what OpenAI means, plus `thinktime`.

What each wire field becomes:
- `max_completion_tokens` (`max_tokens`, its deprecated alias): the most tokens one choice may
  generate in all (every sample, reasoning and verifier call) → `Budget.max_completion_tokens`;
  one sample is capped at the smaller of it and the server's default;
- `temperature`, `top_p`, `stop`, `seed` → `SamplingParams`; `n`: independent choices;
- `max_thinking_tokens` (thinktime's) or `thinking_token_budget` (vLLM's name; both given and
  different is a 400) → `SamplingParams.max_thinking_tokens`, the most a reasoning model thinks;
- an earlier assistant turn's thinking (`reasoning` or `reasoning_content`, vLLM's and
  SGLang's names) is accepted and, as R1 and Qwen3 do, not shown to the model again;
- a message's `content`: a string or a list of text parts; other parts (`image_url`, audio,
  files) are 400s naming the part (`messages.0.content.1.type`), never dropped;
- `tools`, `tool_choice`, `parallel_tool_calls`, `response_format` and an agent's turns
  (assistant `tool_calls`, `tool` messages): see `tools.py`; the reply's `message.tool_calls`
  with `finish_reason: "tool_calls"`;
- fields thinktime does not implement (`UNSUPPORTED`: penalties, logprobs, the deprecated
  `functions`, audio, …) are 400 "FIELD is not supported by this server" unless left at
  their default, so nothing a client asks for is silently dropped;
- harmless bookkeeping (`user`, `metadata`, `store`, `service_tier`) is accepted and unused;
  `stream_options.include_usage` ends a stream with a usage chunk.
Other unknown fields are ignored; wrong types and out-of-range numbers are 400s naming the field.
The response (`ChatCompletion`) and stream (`ChatCompletionChunk`) shapes are built from these
models too, so every reply is OpenAI's shape by construction.

    >>> body = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "top_k": 5}
    >>> request = ChatRequest.model_validate(body)
    >>> request.n, request.unsupported()
    (1, 'top_k')
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    field_validator,
    model_validator,
)

from thinktime.serve.thinking import ReasoningField, reasoning_names
from thinktime.serve.tools import MAX_TOOLS, DeltaToolCall, ToolRequest, WireToolCall
from thinktime.types import Bill

# OpenAI (and vLLM) fields thinktime does not implement → the values that mean "not used"
# (None, i.e. absent, always does): anything else is refused rather than silently ignored
UNSUPPORTED: dict[str, tuple[Any, ...]] = {
    "presence_penalty": (0,),
    "frequency_penalty": (0,),
    "repetition_penalty": (1,),
    "logit_bias": ({},),
    "logprobs": (False,),
    "top_logprobs": (0,),
    "top_k": (0, -1),
    "min_p": (0,),
    "best_of": (1,),
    "functions": ([],),  # deprecated by OpenAI for `tools`, which are supported
    "function_call": ("none", "auto"),
    "modalities": (["text"],),
    "audio": (),
    "prediction": (),
}
Stop = Annotated[str, Field(min_length=1, max_length=256)]


def _unsupported(default: str = "absent") -> Any:
    return Field(None, description=f"Not supported by thinktime: only {default} is accepted.")


class TextPart(BaseModel):
    """One part of a multi-part content list: only text is taken."""

    model_config = ConfigDict(extra="ignore")
    type: Literal["text"]
    text: str

    @field_validator("type", mode="before")
    @classmethod
    def _text_only(cls, kind: Any) -> Any:
        if kind != "text":
            raise ValueError(
                f"content parts of type {kind!r} are not supported by this server; send text "
                'parts ({"type": "text", "text": …}) only'
            )
        return kind


def _content_kind(value: Any) -> str | None:
    return "str" if isinstance(value, str) else "parts" if isinstance(value, list) else None


# a string or a list of parts; the tag keeps a bad part's errors (named by their place) apart
# from "not a string"
Content = Annotated[
    Annotated[str, Tag("str")] | Annotated[list[TextPart], Tag("parts")],
    Discriminator(
        _content_kind,
        custom_error_type="content_type",
        custom_error_message="content must be a string or a list of text parts",
    ),
]


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Content | None = None
    tool_calls: Annotated[list[WireToolCall], Field(max_length=MAX_TOOLS)] | None = Field(
        None, description="An assistant's calls (its content may then be null)."
    )
    tool_call_id: str | None = Field(None, max_length=256, description="The call a tool answers.")
    name: str | None = None
    reasoning: str | None = Field(
        None, description="An assistant's thinking (vLLM's name); not shown to the model again."
    )
    reasoning_content: str | None = Field(
        None, description="An assistant's thinking (SGLang's, DeepSeek's, llama.cpp's name)."
    )

    @model_validator(mode="after")
    def _complete(self) -> ChatMessage:
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a tool message needs the tool_call_id of the call it answers")
        thought = self.reasoning is not None or self.reasoning_content is not None
        if self.content is None and not (self.role == "assistant" and (self.tool_calls or thought)):
            raise ValueError(
                f"a {self.role} message needs content (only an assistant's with tool_calls "
                "or reasoning may be null)"
            )
        if self.tool_calls is not None and self.role != "assistant":
            raise ValueError("only assistant messages carry tool_calls")
        if thought and self.role != "assistant":
            raise ValueError("only assistant messages carry reasoning (or reasoning_content)")
        return self

    def text(self) -> str:
        """The message's text (text parts of a multi-part content list joined)."""
        if self.content is None or isinstance(self.content, str):
            return self.content or ""
        return "".join(part.text for part in self.content)


class ThinktimeOptions(BaseModel):
    """The `thinktime` extra body field: choose the strategy and its compute directly."""

    model_config = ConfigDict(extra="forbid")
    strategy: str | None = None
    n: int | None = Field(None, ge=1, le=64)
    budget: dict[str, float] | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = Field(
        False, description="End the stream with a chunk whose `usage` is the request's total."
    )


class ChatRequest(ToolRequest):
    model_config = ConfigDict(extra="ignore")
    model: str = Field(..., min_length=1, max_length=256)
    messages: list[ChatMessage] = Field(..., min_length=1, max_length=256)
    max_completion_tokens: int | None = Field(
        None, ge=1, le=32768,
        description="Most tokens one choice may generate in all: every sample, reasoning and "
        "verifier call (the choice's budget). One sample is capped at min(this, server default).",
    )  # fmt: skip
    max_tokens: int | None = Field(
        None, ge=1, le=32768, description="Deprecated alias of max_completion_tokens."
    )
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, gt=0.0, le=1.0)
    stop: Stop | Annotated[list[Stop], Field(max_length=4)] | None = Field(
        None, description="Up to 4 strings that end a sample (not included in it)."
    )
    n: int = Field(1, ge=1, le=8, description="Independent choices, each with its own budget.")
    seed: int | None = Field(None, ge=0, le=2**32 - 1)  # the engines' seeds are 32-bit
    stream: bool = False
    stream_options: StreamOptions | None = None
    reasoning_effort: Literal["low", "medium", "high"] | None = None
    max_thinking_tokens: int | None = Field(
        None, ge=1, le=131072,
        description="Most tokens a reasoning model may think in each sample (the engine ends "
        "its thinking there); the server must be able to cap thinking, else 400.",
    )  # fmt: skip
    thinking_token_budget: int | None = Field(
        None, ge=1, le=131072, description="vLLM's name for max_thinking_tokens."
    )
    thinktime: ThinktimeOptions | None = None
    # accepted, not used
    user: str | None = None
    metadata: dict[str, Any] | None = None
    store: bool | None = None
    service_tier: str | None = None
    # refused unless left at their default (see UNSUPPORTED)
    presence_penalty: float | None = _unsupported("0")
    frequency_penalty: float | None = _unsupported("0")
    repetition_penalty: float | None = _unsupported("1")
    logit_bias: dict[str, float] | None = _unsupported("{}")
    logprobs: bool | None = _unsupported("false")
    top_logprobs: int | None = _unsupported("0")
    top_k: int | None = _unsupported("0 or -1")
    min_p: float | None = _unsupported("0")
    best_of: int | None = _unsupported("1")
    functions: list[dict[str, Any]] | None = _unsupported("[]")
    function_call: str | dict[str, Any] | None = _unsupported('"none" or "auto"')
    modalities: list[str] | None = _unsupported('["text"]')
    audio: dict[str, Any] | None = _unsupported()
    prediction: dict[str, Any] | None = _unsupported()

    @field_validator("messages")
    @classmethod
    def _a_question(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        """A conversation ends with the user's question, or with the results of the calls
        made after it; every tool result answers a call made before it."""
        if messages[-1].role not in ("user", "tool"):
            raise ValueError("the last message must be from the user (or a tool's result)")
        users = [m for m in messages if m.role == "user"]
        if not users or not users[-1].text().strip():
            raise ValueError("the last user message is empty; send the question in it")
        called: set[str] = set()
        for message in messages:
            called.update(call.id for call in message.tool_calls or ())
            if message.role == "tool" and message.tool_call_id not in called:
                raise ValueError(
                    f"tool message answers tool_call_id {message.tool_call_id!r}, which no "
                    "earlier assistant message called"
                )
        return messages

    def unsupported(self) -> str | None:
        """The first field set to something thinktime cannot do (None: every field is usable)."""
        for name, defaults in UNSUPPORTED.items():
            value = getattr(self, name)
            if value is not None and value not in defaults:
                return name
        return None

    def completion_cap(self) -> int | None:
        """The choice's token budget as asked: max_completion_tokens, else its alias."""
        return self.max_completion_tokens or self.max_tokens

    def stops(self) -> tuple[str, ...]:
        """`stop` as the engine takes it: a tuple of strings."""
        if self.stop is None:
            return ()
        return (self.stop,) if isinstance(self.stop, str) else tuple(self.stop)

    def include_usage(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)


def _omitted_when_none(description: str) -> Any:
    """A field left out of the JSON while None, as OpenAI leaves it out (a delta carries only
    what changed; a chunk has `usage` only at the end)."""
    return Field(None, exclude_if=lambda value: value is None, description=description)


class CompletionTokensDetails(BaseModel):
    reasoning_tokens: int = Field(0, description="Completion tokens written before the answer.")


class Usage(BaseModel):
    """Tokens of the whole request (every choice), equal to the sum of its bills."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int
    completion_tokens_details: CompletionTokensDetails

    @classmethod
    def of(cls, prompt: int, completion: int, reasoning: int = 0) -> Usage:
        details = CompletionTokensDetails(reasoning_tokens=reasoning)
        return cls(prompt_tokens=prompt, completion_tokens=completion,
                   total_tokens=prompt + completion, completion_tokens_details=details)  # fmt: skip

    @classmethod
    def billed(cls, bills: Sequence[Bill]) -> Usage:
        """The usage of a request whose choices cost `bills`.

        >>> Usage.billed([Bill(prompt_tokens=5, completion_tokens=7, reasoning_tokens=4)] * 2)
        ... # doctest: +NORMALIZE_WHITESPACE
        Usage(prompt_tokens=10, completion_tokens=14, total_tokens=24,
              completion_tokens_details=CompletionTokensDetails(reasoning_tokens=8))
        """
        return cls.of(
            sum(b.prompt_tokens for b in bills),
            sum(b.completion_tokens for b in bills),
            sum(b.reasoning_tokens for b in bills),
        )


class ThinktimeAnswer(BaseModel):
    """The `thinktime` extension of an answer: how it was chosen and what it cost."""

    strategy: str
    answer: str | None = Field(None, description="The extracted answer (None: none extracted).")
    votes: dict[str, float] = Field(default_factory=dict, description="Answer → its votes.")
    budget_limited: bool = Field(False, description="The budget cut the work short.")
    bill: dict[str, Any] | None = _omitted_when_none("The choice's `Bill`.")
    completion_tokens: int | None = _omitted_when_none("Tokens streamed (token streams only).")


class ThinktimeProgress(BaseModel):
    """The `thinktime` extension of a progress chunk: the work done so far."""

    event: Literal["progress"] = "progress"
    samples: int = 0
    completion_tokens: int = 0


class Message(BaseModel):
    """The reply's message; the thinking goes out under the server's `--reasoning-field`
    names only (`ChatCompletion.wire`)."""

    role: Literal["assistant"] = "assistant"
    content: str | None
    reasoning_content: str | None = Field(None, description="The chosen sample's reasoning.")
    reasoning: str | None = Field(None, description="The same, under vLLM's name.")
    tool_calls: list[WireToolCall] | None = _omitted_when_none("The functions the model calls.")


FinishReason = Literal["stop", "length", "tool_calls"]


class Choice(BaseModel):
    index: int
    message: Message
    finish_reason: FinishReason


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[Choice]
    usage: Usage
    thinktime: ThinktimeAnswer | list[ThinktimeAnswer]

    def wire(self, field: ReasoningField = "both") -> dict[str, Any]:
        """The reply as JSON, its messages' thinking under the names `field` chooses only.

        >>> message = Message(content="4", reasoning="2+2", reasoning_content="2+2")
        >>> reply = ChatCompletion(id="c", model="m", usage=Usage.of(1, 2), thinktime=[],
        ...     choices=[Choice(index=0, finish_reason="stop", message=message)])
        >>> reply.wire("reasoning")["choices"][0]["message"]
        {'role': 'assistant', 'content': '4', 'reasoning': '2+2'}
        """
        unsent = {"reasoning_content", "reasoning"} - set(reasoning_names(field))
        return self.model_dump(mode="json", exclude={"choices": {"__all__": {"message": unsent}}})


class Delta(BaseModel):
    """What a chunk adds to the message; only the fields that changed are sent."""

    role: Literal["assistant"] | None = _omitted_when_none("Set on the first chunk only.")
    content: str | None = _omitted_when_none("The next piece of the reply.")
    reasoning_content: str | None = _omitted_when_none("The next piece of the thinking.")
    reasoning: str | None = _omitted_when_none("The same, under vLLM's name.")
    tool_calls: list[DeltaToolCall] | None = _omitted_when_none("Calls, or pieces of them.")

    @classmethod
    def thinking(cls, text: str, field: ReasoningField = "both") -> Delta:
        """A piece of thinking under the names `field` chooses.

        >>> Delta.thinking("hm", "reasoning_content").model_dump(exclude_none=True)
        {'reasoning_content': 'hm'}
        """
        return cls(**dict.fromkeys(reasoning_names(field), text))


class ChunkChoice(BaseModel):
    index: int = 0
    delta: Delta = Field(default_factory=Delta)
    finish_reason: FinishReason | None = None


class ChatCompletionChunk(BaseModel):
    """One server-sent event of a stream; the usage chunk has no choices."""

    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int = Field(default_factory=lambda: int(time.time()))
    model: str
    choices: list[ChunkChoice] = Field(default_factory=lambda: [ChunkChoice()])
    usage: Usage | None = _omitted_when_none("The request's total, on the last chunk only.")
    thinktime: ThinktimeAnswer | ThinktimeProgress | None = _omitted_when_none(
        "Progress so far (progress chunks), how the answer was chosen (the answer's chunk)."
    )

    def sse(self) -> str:
        """The chunk as a server-sent event."""
        return f"data: {self.model_dump_json()}\n\n"


def error_body(message: str, kind: str = "invalid_request_error", param: str | None = None,
               code: str | None = None) -> dict[str, Any]:  # fmt: skip
    """OpenAI's error shape."""
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}
