"""The backend protocol and the registry that builds backends from a model spec.

A spec is `BACKEND:MODEL` or just `MODEL` (the embedded `llamacpp` engine):
`qwen2.5-coder-0.5b`, `llamacpp:/path/model.gguf`, `openai:gpt-4o-mini`, `fake`.
Built-in backends register the same way a plugin would:

    >>> @register_backend("echo")
    ... def _echo(model: str, **options: object) -> Backend: ...
    >>> "echo" in BACKENDS
    True
    >>> del BACKENDS["echo"]
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from functools import lru_cache
from typing import Protocol, runtime_checkable

from thinktime.models.card import ModelCard
from thinktime.registry import Registry
from thinktime.sampling import SamplingParams
from thinktime.types import Generation, Request


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


BackendFactory = Callable[..., Backend]
# built-ins live in their own modules and are imported on first use (engines load lazily)
BACKENDS: Registry[BackendFactory] = Registry(
    "backend",
    {
        "llamacpp": "thinktime.backends.llamacpp",
        "openai": "thinktime.backends.openai_compat",
        "fake": "thinktime.backends.fake",
    },
)


def register_backend(name: str) -> Callable[[BackendFactory], BackendFactory]:
    """Decorator: make `factory(model, **options)` available as backend `name`."""
    return BACKENDS.register(name)


def split_spec(spec: str) -> tuple[str, str]:
    """`openai:gpt-4o` → ("openai", "gpt-4o"); `qwen2.5-coder-0.5b` → ("llamacpp", …)."""
    if spec == "fake":
        return "fake", ""
    head, sep, tail = spec.partition(":")
    if sep and head in BACKENDS:
        return head, tail
    return "llamacpp", spec


def make_backend(spec: str, **options: object) -> Backend:
    """Build a new backend for `spec` (see module docstring)."""
    name, model = split_spec(spec)
    return BACKENDS.get_or_fail(name)(model, **options)


@lru_cache(maxsize=4)
def _cached(spec: str, options: tuple[tuple[str, object], ...]) -> Backend:
    return make_backend(spec, **dict(options))


def load_backend(spec: str, **options: object) -> Backend:
    """Like `make_backend`, but reuses a loaded engine for the same spec and options."""
    return _cached(spec, tuple(sorted(options.items())))
