"""Sampling parameters, named and bounded as in OpenAI's and vLLM's APIs.

Validated when built, so a bad value fails before any compute is spent:

    >>> SamplingParams(temperature=0.7, max_tokens=256).max_tokens
    256
    >>> SamplingParams(max_tokens=0)
    Traceback (most recent call last):
    pydantic_core._pydantic_core.ValidationError: ...

`sampling_params` builds them from user input: a bad value is a one-line `ThinktimeError`
naming the field (or its CLI option) and the valid range:

    >>> sampling_params(options=True, temperature=5)
    Traceback (most recent call last):
    thinktime.errors.ThinktimeError: --temperature must be a number >= 0.0 and <= 2.0, got 5
"""

from __future__ import annotations

from typing import Any, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from thinktime.errors import ThinktimeError


class SamplingParams(BaseModel):
    """How to sample one completion; `n` lives on the `Request`, not here."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    temperature: float = Field(0.7, ge=0.0, le=2.0, description="Softmax temperature; 0 = greedy.")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    max_tokens: int = Field(1024, ge=1, le=131072, description="Most tokens to generate.")
    max_thinking_tokens: int | None = Field(
        None,
        ge=1,
        le=131072,
        description="Most tokens a reasoning model may think, capped by the server (part of "
        "max_tokens); None = no cap. Only a backend that declares a thinking-budget field "
        "(`backends.base.ThinkingBudget`) can carry it; elsewhere the call is refused (use the "
        "budget_forcing strategy, which caps thinking itself).",
    )
    stop: tuple[str, ...] = Field((), description="Strings that end generation (not included).")
    seed: int | None = Field(None, description="Sampling seed; None for a random one.")
    logprobs: bool = Field(False, description="Return each token's log-probability.")
    top_logprobs: int = Field(0, ge=0, le=20, description="Alternatives to return per token.")
    ignore_eos: bool = Field(False, description="Generate past end-of-sequence (benchmarks).")

    def with_(self, **changes: object) -> SamplingParams:
        """A copy with some fields changed, validated again."""
        return SamplingParams.model_validate({**self.model_dump(), **changes})


def sampling_params(*, options: bool = False, **values: Any) -> SamplingParams:
    """`SamplingParams(**values)`; a bad value raises `ThinktimeError` with its valid range, named
    as the field (`max_tokens`) or, with `options`, as the CLI option (`--max-tokens`)."""
    try:
        return SamplingParams(**values)
    except ValidationError as exc:
        error = exc.errors()[0]
        name = str(error["loc"][0]) if error["loc"] else "sampling"
        label = f"--{name.replace('_', '-')}" if options else name
        field = SamplingParams.model_fields.get(name)
        if field is None:
            raise ThinktimeError(f"bad {label}: {error['msg']}") from None
        types = [t for t in get_args(field.annotation) or [field.annotation] if t is not type(None)]
        kind = "an integer" if int in types else "a number" if float in types else "valid"
        bounds = [
            f"{sign} {getattr(rule, attr)}"
            for rule in field.metadata
            for attr, sign in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))
            if hasattr(rule, attr)
        ]
        valid = " ".join([kind, " and ".join(bounds)]).strip()
        raise ThinktimeError(f"{label} must be {valid}, got {error['input']!r}") from None
