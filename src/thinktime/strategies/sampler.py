"""Parameters shared by strategies that draw candidates with another strategy (composition).

The sampler's own parameters are validated with these, once: `inner_params` is that typed
model, so counting a composed strategy's samples (`draw_width`, `draw_total`) or drawing them
(`Context.draw`) never parses `sampler_params` again.

>>> params = SamplerParams(sampler="budget_forcing", sampler_params={"max_thinking_tokens": 256})
>>> params.sampler, params.inner_params.max_thinking_tokens
('budget_forcing', 256)
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, model_validator

from thinktime.strategies.base import DEFAULT_STRATEGY, get_strategy


class SamplerParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sampler: str = Field(DEFAULT_STRATEGY, description="Strategy that makes each candidate.")
    sampler_params: dict[str, Any] = Field(default_factory=dict, description="Its parameters.")
    # the sampler's typed params, and the (sampler, sampler_params) they were parsed from
    _inner: BaseModel | None = PrivateAttr(None)
    _inner_of: tuple[str, dict[str, Any]] | None = PrivateAttr(None)

    @model_validator(mode="after")
    def _parse_sampler(self) -> Self:
        """Validate the sampler's params with these (an unknown sampler or a bad parameter of
        it is a `ThinktimeError` naming it, before anything runs)."""
        self._inner = get_strategy(self.sampler).parse_params(self.sampler_params)
        self._inner_of = (self.sampler, self.sampler_params)
        return self

    @property
    def inner_params(self) -> BaseModel:
        """The sampler's typed params, parsed when these were validated; parsed here only for
        params built without validation (`model_construct`, a stored call read back) or whose
        sampler a `model_copy` changed."""
        if self._inner is None or self._inner_of != (self.sampler, self.sampler_params):
            self._inner = get_strategy(self.sampler).parse_params(self.sampler_params)
            self._inner_of = (self.sampler, self.sampler_params)
        return self._inner
