"""The backend protocol, its optional capabilities, and the registry that builds backends.

A spec is `BACKEND:MODEL` or just `MODEL` (the embedded `llamacpp` engine):
`qwen2.5-coder-0.5b`, `llamacpp:/path/model.gguf`, `openai:gpt-4o-mini`, `fake`.
Built-in backends register the same way a plugin would, with the options they take:

    >>> @register_backend("echo")
    ... def _echo(model: str, options: NoOptions) -> Backend: ...
    >>> "echo" in BACKENDS
    True
    >>> make_backend("echo:any", n_parallel=4)
    Traceback (most recent call last):
    thinktime.errors.ThinktimeError: backend 'echo' takes no option 'n_parallel' (its options: none)
    >>> del BACKENDS["echo"]

Optional features are protocols, checked with `isinstance`, never `getattr`:

    >>> from thinktime.backends.fake import FakeBackend
    >>> isinstance(FakeBackend(), ChatTemplating), isinstance(FakeBackend(), EngineMetrics)
    (True, False)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from thinktime.backends.options import BackendOptions, NoOptions, parse_options
from thinktime.errors import ThinktimeError
from thinktime.models.card import ModelCard
from thinktime.models.resolve import unknown_model
from thinktime.registry import Registry
from thinktime.sampling import SamplingParams
from thinktime.types import Generation, Message, Request, TokenLogprob


@runtime_checkable
class Backend(Protocol):
    """Anything that samples completions for a batch of requests."""

    name: str
    """The model's display name (what results and bills report)."""
    card: ModelCard | None
    """The model's shape for FLOPs; None when unknown (e.g. a hosted API)."""

    def generate(self, requests: Sequence[Request], params: SamplingParams) -> list[Generation]:
        """One `Generation` per request, in order; all requests run as one batch where possible."""
        ...


@runtime_checkable
class Cancellable(Protocol):
    """A backend whose calls stop mid-generation when asked (the client left, the time ran out)."""

    def generate_until(
        self, requests: Sequence[Request], params: SamplingParams, cancel: threading.Event | None
    ) -> list[Generation]:
        """`generate`, with every sequence stopped at its next token once `cancel` is set."""
        ...


OnDelta = Callable[[int, str], None]
"""Told (choice index, text piece) as a streamed call makes each piece."""


@runtime_checkable
class DeltaStreaming(Protocol):
    """A backend whose batched calls can report each piece of text as it is generated — how
    a single-sample strategy's answer streams while it still runs through the ledger."""

    def generate_streamed(
        self,
        requests: Sequence[Request],
        params: SamplingParams,
        cancel: threading.Event | None,
        on_delta: OnDelta,
    ) -> list[Generation]:
        """`generate` (stopping at the next token once `cancel` is set), calling `on_delta`."""
        ...


Watch = Callable[[int, TokenLogprob], bool]
"""Told (sample index in its request, the token just made with its top-k logprobs); True stops
that sample there while the request's other samples go on."""


@runtime_checkable
class StopsSequences(Protocol):
    """A backend that can stop one sample of a request at any token, freeing its slot for the
    next queued sample, while the others go on (DeepConf's online early stop). A stopped
    sample's finish_reason is `types.CUT`; the tokens it made are counted."""

    def generate_watched(
        self,
        request: Request,
        params: SamplingParams,
        watch: Watch,
        cancel: threading.Event | None = None,
    ) -> Generation:
        """`request`'s n samples with top-k logprobs, each shown token by token to `watch`."""
        ...


@runtime_checkable
class ChatTemplating(Protocol):
    """A backend that renders its model's chat template, so a raw text can be continued
    (strategies that write part of the answer themselves: budget forcing, step search)."""

    def chat_prompt(self, messages: Sequence[Message]) -> str:
        """The raw text the model sees for `messages`, ending where the assistant speaks."""
        ...


@runtime_checkable
class Tokenizing(Protocol):
    """A backend that splits text into its model's tokens."""

    def tokenize(self, text: str) -> tuple[str, ...]:
        """`text` as the model's tokens, each as a string."""
        ...


@runtime_checkable
class EngineMetrics(Protocol):
    """A backend that reports its engine's own counters (queue, slots, tokens per second)."""

    def engine_stats(self) -> dict[str, float]:
        """Counter name → value, Prometheus names without the engine's prefix."""
        ...


@runtime_checkable
class DerivesSeeds(Protocol):
    """A backend that says how it spends a call's seed (see `seed_stride`)."""

    seed_stride: int
    """How far apart two calls' seeds must be so the seeds sampled within each never meet
    (llama.cpp samples chunk k of an n-sample call with seed + k)."""


@runtime_checkable
class ThinkingBudget(Protocol):
    """A backend whose engine caps a reasoning model's thinking per request
    (`SamplingParams.max_thinking_tokens`): vLLM's `thinking_token_budget`, SGLang's
    `chat_template_kwargs.thinking_budget`, llama.cpp's `reasoning_budget_tokens` (the embedded
    engine, which needs the model to write its `think_tags`: see `llamacpp_thinking.py`)."""

    thinking_budget_field: str | None
    """The request field that carries the cap; None where this engine was not told one."""


@runtime_checkable
class ConstrainsOutput(Protocol):
    """A backend whose engine holds a reply to a JSON schema: `response_format` and a call
    that must be made (`tool_choice` required or named). llama.cpp does it with its grammar;
    an OpenAI-compatible server is trusted to do what the API says."""

    constrains_output: bool


def needs_constraint(requests: Sequence[Request]) -> bool:
    """Whether any request asks for a reply held to a schema (see `ConstrainsOutput`).

    >>> from thinktime.types import ReplyFormat
    >>> fmt = ReplyFormat(response_format={"type": "json_object"})
    >>> needs_constraint([Request(messages=(Message("user", "hi"),), reply_format=fmt)])
    True
    """
    return any(r.reply_format is not None and r.reply_format.constrained() for r in requests)


class EngineCannot(ThinktimeError):
    """A call asks an engine for what it cannot do; `field` is what was asked
    (`response_format` or `max_thinking_tokens`), so an edge can name its own field."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


def check_engine(
    backend: Backend, *, constrained: bool = False, thinking_cap: bool = False, asked: str = ""
) -> None:
    """The one check that `backend` can do what a call asks — hold a reply to a JSON schema,
    cap thinking — made by the ledger before each engine call and by every edge before any
    compute (the server's 400, the CLI's one line). Refused, never ignored: an ignored schema
    returns an unconstrained reply, a dropped cap lets the model think on. `asked` names how
    the caller asked for the cap (a flag, a config, wire fields), for the message.

    >>> from thinktime.backends.fake import FakeBackend
    >>> check_engine(FakeBackend(), thinking_cap=True, asked="--max-thinking-tokens")
    Traceback (most recent call last):
    thinktime.backends.base.EngineCannot: model 'fake' cannot cap thinking \
(--max-thinking-tokens): leave it unset, use strategy budget_forcing (it caps thinking itself), \
or an openai backend given thinking_budget_field for a server that takes one
    """
    if constrained and not isinstance(backend, ConstrainsOutput):
        raise EngineCannot(
            f"model {backend.name!r} cannot hold a reply to a JSON schema "
            "(response_format, or tool_choice required / a named function); "
            "use the llamacpp or openai backend",
            "response_format",
        )
    if thinking_cap and not caps_thinking(backend):
        raise EngineCannot(
            f"model {backend.name!r} cannot cap thinking ({asked or 'max_thinking_tokens'}): "
            "leave it unset, use strategy budget_forcing (it caps thinking itself), or an "
            "openai backend given thinking_budget_field for a server that takes one",
            "max_thinking_tokens",
        )


def caps_thinking(backend: Backend) -> bool:
    """Whether `backend` sends `max_thinking_tokens` to its engine (else it would be dropped).

    >>> from thinktime.backends.fake import FakeBackend
    >>> caps_thinking(FakeBackend())
    False
    """
    return isinstance(backend, ThinkingBudget) and backend.thinking_budget_field is not None


# an engine that offsets its seed per sample or per chunk (llama.cpp, vLLM) stays clear of the
# next call's seeds unless a call draws this many samples or chunks
DEFAULT_SEED_STRIDE = 100_003


def seed_stride(backend: Backend) -> int:
    """The distance the ledger keeps between the seeds of a backend's successive calls.

    >>> from thinktime.backends.fake import FakeBackend
    >>> seed_stride(FakeBackend())
    100003
    """
    return backend.seed_stride if isinstance(backend, DerivesSeeds) else DEFAULT_SEED_STRIDE


Factory = Callable[[str, Any], Backend]  # factory(model, options) → a new backend


@dataclass(frozen=True)
class BackendSpec:
    """A registered backend: its factory and the typed options that factory takes."""

    name: str
    factory: Factory
    options: type[BackendOptions]

    def accepted(self, hints: Mapping[str, object]) -> dict[str, object]:
        """The hints this backend declares as options (e.g. slots only for the embedded engine)."""
        return {k: v for k, v in hints.items() if k in self.options.model_fields}

    def build(self, model: str, options: Mapping[str, object]) -> Backend:
        """A new backend for `model`; an option it does not take is a one-line error."""
        return self.factory(model, parse_options(self.name, self.options, options))


BACKENDS: Registry[BackendSpec] = Registry(
    "backend",
    # built-ins live in their own modules and are imported on first use (engines load lazily)
    {
        "llamacpp": "thinktime.backends.llamacpp",
        "openai": "thinktime.backends.openai_compat",
        "fake": "thinktime.backends.fake",
    },
)


def register_backend(
    name: str, options: type[BackendOptions] = NoOptions
) -> Callable[[Factory], Factory]:
    """Decorator: make `factory(model, options)` available as backend `name`, taking `options`."""

    def add(factory: Factory) -> Factory:
        BACKENDS[name] = BackendSpec(name, factory, options)
        return factory

    return add


def split_spec(spec: str) -> tuple[str, str]:
    """`openai:gpt-4o` → ("openai", "gpt-4o"); `qwen2.5-coder-0.5b` → ("llamacpp", …)."""
    if spec == "fake":
        return "fake", ""
    head, sep, tail = spec.partition(":")
    if sep and head in BACKENDS:
        return head, tail
    if sep and head != "hf" and not spec.endswith(".gguf"):  # a misspelt BACKEND:MODEL
        raise unknown_model(spec, backends=list(BACKENDS))
    return "llamacpp", spec


def make_backend(
    spec: str, *, hints: Mapping[str, object] | None = None, **options: object
) -> Backend:
    """Build a new backend for `spec` (see module docstring). Nothing here keeps it: the caller
    owns the engine and passes it to every call that should share it (a sweep holds one per
    model across its configs, a server one for its life).

    `options` must all be options of the chosen backend; `hints` are passed only where the
    backend declares them (`hints={"n_parallel": 16}` sizes the embedded engine's slots and
    means nothing to a hosted API).
    """
    name, model = split_spec(spec)
    backend = BACKENDS.get_or_fail(name)
    return backend.build(model, {**backend.accepted(hints or {}), **options})
