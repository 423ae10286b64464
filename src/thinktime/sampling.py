"""Sampling parameters, named and bounded as in OpenAI's and vLLM's APIs.

Validated when built, so a bad value fails before any compute is spent:

    >>> SamplingParams(temperature=0.7, max_tokens=256).max_tokens
    256
    >>> SamplingParams(max_tokens=0)
    Traceback (most recent call last):
    pydantic_core._pydantic_core.ValidationError: ...
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class SamplingParams(BaseModel):
    """How to sample one completion; `n` lives on the `Request`, not here."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    temperature: float = Field(0.7, ge=0.0, le=2.0, description="Softmax temperature; 0 = greedy.")
    top_p: float = Field(0.95, gt=0.0, le=1.0, description="Nucleus sampling mass.")
    max_tokens: int = Field(1024, ge=1, le=131072, description="Most tokens to generate.")
    stop: tuple[str, ...] = Field((), description="Strings that end generation (not included).")
    seed: int | None = Field(None, description="Sampling seed; None for a random one.")
    logprobs: bool = Field(False, description="Return each token's log-probability.")
    top_logprobs: int = Field(0, ge=0, le=20, description="Alternatives to return per token.")
    ignore_eos: bool = Field(False, description="Generate past end-of-sequence (benchmarks).")

    def with_(self, **changes: object) -> SamplingParams:
        """A copy with some fields changed, validated again."""
        return SamplingParams.model_validate({**self.model_dump(), **changes})
