"""Core value types that flow task → strategy → backend → verifier → bill.

All are frozen dataclasses: a `Request` goes into a backend, a `Generation` (one prompt's
completions) comes back, strategies turn completions into `Sample`s and return a `Result`.

Example:
    >>> req = Request(messages=(Message("user", "What is 2+3?"),), n=4)
    >>> req.n
    4
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from thinktime.errors import ThinktimeError

Role = Literal["system", "user", "assistant", "tool"]
CUT = "cut"  # the finish_reason of a sample stopped early by its strategy (a confidence rule)


@dataclass(frozen=True)
class ToolCall:
    """One call of a function tool, as OpenAI's `tool_calls[]` names it: `arguments` is the
    JSON text the model wrote (not parsed: a client parses it, a vote normalises it)."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Message:
    """One chat turn, named as in OpenAI's chat API: an assistant turn may hold `tool_calls`
    (its content then often empty), a `tool` turn answers the call `tool_call_id`."""

    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None


ToolChoice = Literal["auto", "none", "required"]


@dataclass(frozen=True)
class ReplyFormat:
    """What shape a reply may take, as OpenAI's chat fields say: calls of `tools` (function
    definitions in OpenAI's shape) under `tool_choice` (`forced` names the one function it must
    call), or text constrained by `response_format` (`json_object` / `json_schema`).

        >>> ReplyFormat(tools=({"type": "function", "function": {"name": "add"}},)).names()
        ('add',)
    """

    tools: tuple[dict[str, Any], ...] = ()
    tool_choice: ToolChoice = "auto"
    forced: str | None = None  # a named tool_choice: this function must be called
    parallel_tool_calls: bool = True
    response_format: dict[str, Any] | None = None

    def names(self) -> tuple[str, ...]:
        """The functions the model may call."""
        return tuple(str(tool["function"]["name"]) for tool in self.tools)

    def calls_tools(self) -> bool:
        """Whether the reply may be tool calls (tools given and not switched off)."""
        return bool(self.tools) and self.tool_choice != "none"

    def constrained(self) -> bool:
        """Whether the engine must hold the reply to a schema (JSON asked, or a call forced)."""
        return self.response_format is not None or self.must_call()

    def must_call(self) -> bool:
        """Whether the reply must be a tool call (`required`, or a named function)."""
        return self.calls_tools() and (self.tool_choice == "required" or self.forced is not None)


@dataclass(frozen=True)
class Request:
    """A prompt (chat `messages` or raw `prompt` text to continue) and how many samples to draw.

    The n samples of one request share the prompt's prefill on engines that can fork a sequence.
    """

    messages: tuple[Message, ...] = ()
    prompt: str | None = None
    n: int = 1
    reply_format: ReplyFormat | None = None  # tools / response_format (chat requests only)

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ThinktimeError(f"n must be at least 1, got {self.n}; pass -n 1 or more")
        if bool(self.messages) == (self.prompt is not None):
            raise ThinktimeError("a Request needs exactly one of messages or prompt")


@dataclass(frozen=True)
class TokenLogprob:
    """One generated token with its log-probability and the top alternatives, if asked for."""

    token: str
    logprob: float
    top: tuple[tuple[str, float], ...] = ()


@dataclass(frozen=True)
class Completion:
    """One sampled continuation, with its own token count (never the server's shared `usage`).

    `text` is what the model said after any thinking: where answers are looked for. A reasoning
    model's thinking is `reasoning` (None when it did not think apart); `completion_tokens`,
    `logprobs` and `tokens` cover all that was generated, thinking first, then `text`.
    `tokens` holds the text of each generated token where the engine can tell (from logprobs or
    its tokenizer); it makes `reasoning_tokens` exact.
    """

    text: str
    finish_reason: str
    completion_tokens: int
    logprobs: tuple[TokenLogprob, ...] | None = None
    tokens: tuple[str, ...] | None = None
    reasoning: str | None = None
    # the server's count of this choice's thinking tokens (its usage's
    # completion_tokens_details.reasoning_tokens), where it gave one for this choice alone
    reasoning_tokens: int | None = None
    tool_calls: tuple[ToolCall, ...] = ()  # the functions the model called (text: what else)


@dataclass(frozen=True)
class Generation:
    """The completions of one `Request`, with what the engine spent on the prompt.

    `prompt_tokens` is the prompt length times the number of times an engine processed it
    (1 when n samples share one prefill); `cached_prompt_tokens` is how many of those the
    engine reused from its cache instead of computing.
    """

    completions: tuple[Completion, ...]
    prompt_length: int
    prompt_tokens: int
    cached_prompt_tokens: int = 0


@dataclass(frozen=True)
class Sample:
    """A completion as a strategy sees it: its text, extracted answer and optional score.

    `text` is what followed any thinking (the answer was extracted from it); `reasoning` is the
    thinking of a reasoning model, None when it did not think apart.
    """

    text: str
    answer: str | None
    finish_reason: str
    completion_tokens: int
    reasoning_tokens: int
    score: float | None = None
    reasoning: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()  # the next step of an agent: the calls it makes
    # how sure the model was of it (`answers.confidence.TraceConfidence`), when the engine gave
    # top-k logprobs (a strategy asked for them); typed loosely here, below the answers layer
    confidence: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Bill:
    """What an answer cost. `flops` is None when the model's shape is unknown."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0
    verifier_tokens: int = 0
    cached_prompt_tokens: int = 0
    flops: int | None = 0
    seconds: float = 0.0
    engine_seconds: float = 0.0  # the part of `seconds` spent inside backend calls
    dollars: float = 0.0
    calls: int = 0
    samples: int = 0
    samples_cut: int = 0  # samples stopped early (DeepConf's online rule): their tokens count

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def __add__(self, other: Bill) -> Bill:
        merged: dict[str, Any] = {}
        for f in fields(self):
            a, b = getattr(self, f.name), getattr(other, f.name)
            merged[f.name] = None if a is None or b is None else a + b
        return Bill(**merged)

    def to_dict(self) -> dict[str, object]:
        return {**asdict(self), "total_tokens": self.total_tokens}


@dataclass(frozen=True)
class Result:
    """What `thinktime.solve` returns: the answer, how it was chosen, and what it cost.

    `votes` maps each distinct answer (one representative per equivalence class) to its count;
    `chosen` indexes the sample whose text (and thinking) is shown; `bill` is its `Bill`.
    """

    question: str
    answer: str | None
    strategy: str
    model: str
    samples: tuple[Sample, ...]
    votes: dict[str, float] = field(default_factory=dict)
    chosen: int | None = None
    bill: Bill = field(default_factory=Bill)
    details: dict[str, object] = field(default_factory=dict)
    budget_limited: bool = False

    @property
    def text(self) -> str:
        """What the chosen sample said after any thinking: the text its answer came from
        (empty when no sample was chosen)."""
        return self.samples[self.chosen].text if self.chosen is not None else ""

    @property
    def thinking(self) -> str | None:
        """The chosen sample's thinking (`Sample.reasoning`), None where it did not think apart."""
        return self.samples[self.chosen].reasoning if self.chosen is not None else None
