"""Parameters shared by strategies that draw candidates with another strategy (composition).

>>> SamplerParams(sampler="budget_forcing", sampler_params={"max_thinking_tokens": 256}).sampler
'budget_forcing'
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from thinktime.strategies.base import DEFAULT_STRATEGY


class SamplerParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sampler: str = Field(DEFAULT_STRATEGY, description="Strategy that makes each candidate.")
    sampler_params: dict[str, Any] = Field(default_factory=dict, description="Its parameters.")
