"""A workload: how many answers a day, how long each is, with which strategy, model and chips.

Written as YAML; every field is checked, and a bad one is an error naming the field and the
allowed values. Example (`docs/plan/agents.yaml`):

    name: 10k agents on a distilled 7B, self-consistency n=8
    agents: 10000
    steps_per_agent_per_day: 50
    prompt_tokens: 2000
    completion_tokens: 500
    model: dense-7b
    strategy: self_consistency
    strategy_params: {n: 8}
    hardware: [H100, H200, A100, L4]

`requests_per_day` can replace agents × steps. The strategy's token multiplier comes from
`token_multiplier` when given (e.g. measured by `thinktime bench`), else from what the strategy
declares for its parameters (`StrategySpec.tokens`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from thinktime.errors import ThinktimeError
from thinktime.strategies import DEFAULT_STRATEGY, get_strategy, strategies_that


class Workload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = "workload"
    requests_per_day: float | None = Field(None, gt=0, description="Answers per day.")
    agents: int | None = Field(None, gt=0, description="Agents running in parallel.")
    steps_per_agent_per_day: float | None = Field(
        None, gt=0, description="Steps each agent takes a day."
    )
    prompt_tokens: int = Field(1000, ge=1, description="Prompt tokens per step.")
    completion_tokens: int = Field(400, ge=1, description="Completion tokens per sample.")
    model: str = Field(..., description="A known profile, a .gguf path or a HF config.json.")
    strategy: str = Field(DEFAULT_STRATEGY, description="A thinktime strategy name.")
    strategy_params: dict[str, Any] = Field(default_factory=dict)
    token_multiplier: float | None = Field(None, gt=0, description="Completion tokens × this.")
    hardware: list[str] = Field(default_factory=lambda: ["H100", "H200", "A100", "L4"])
    utilization: float = Field(0.5, gt=0, le=1, description="Share of roofline throughput reached.")
    max_batch: int = Field(256, ge=1, description="Largest decode batch the server runs.")
    training_tokens: float | None = Field(
        None, gt=0, description="Tokens of the model's training run."
    )

    @model_validator(mode="after")
    def _volume(self) -> Workload:
        if self.requests_per_day is None and (
            self.agents is None or self.steps_per_agent_per_day is None
        ):
            raise ValueError("give requests_per_day, or agents and steps_per_agent_per_day")
        return self

    @property
    def requests(self) -> float:
        if self.requests_per_day is not None:
            return self.requests_per_day
        assert self.agents is not None and self.steps_per_agent_per_day is not None
        return self.agents * self.steps_per_agent_per_day

    def multipliers(self) -> tuple[float, float]:
        """(prompt, completion) token multipliers of the strategy per answer."""
        if self.token_multiplier is not None:
            return 1.0, self.token_multiplier
        spec = get_strategy(self.strategy)
        if spec.tokens is None:
            raise ThinktimeError(
                f"no token multiplier for strategy {self.strategy!r}; set token_multiplier "
                "(measure it with thinktime bench) or use one of: "
                f"{strategies_that(lambda s: s.tokens is not None)}"
            )
        return spec.tokens(spec.parse_params(self.strategy_params))


def load_workload(path: str | Path) -> Workload:
    file = Path(path)
    if not file.is_file():
        raise ThinktimeError(f"workload file not found: {file}")
    try:
        data = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as exc:
        raise ThinktimeError(f"{file} is not YAML: {exc}") from None
    try:
        return Workload.model_validate(data)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(map(str, error["loc"])) or "workload"
        allowed = ", ".join(Workload.model_fields)
        raise ThinktimeError(
            f"{file}: field {field!r}: {error['msg']} (fields: {allowed})"
        ) from None
