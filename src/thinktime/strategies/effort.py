"""`reasoning_effort` (low | medium | high, as in OpenAI's API) → a strategy and a budget.

The shipped mapping is `efforts.toml`; a model can have its own rows, and a user file named by
`THINKTIME_EFFORTS` overrides either (same shape). Levels name what a caller wants; the mapping
says what that costs on a given model:

    >>> effort = effort_for("high", "qwen2.5-coder-0.5b")
    >>> effort.strategy, effort.budget.max_completion_tokens, effort.max_thinking_tokens
    ('adaptive_consistency', 12000, 4096)

A row's `max_thinking_tokens` is the thinking cap a level means for a reasoning model; `solve`
sends it only to a backend whose engine caps thinking (`ThinkingBudget`: vLLM's
`thinking_token_budget`, SGLang's `thinking_budget`), where the engine itself ends the thinking.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from thinktime.compute.budget import Budget
from thinktime.errors import ThinktimeError

LEVELS = ("low", "medium", "high")


@dataclass(frozen=True)
class Effort:
    strategy: str
    params: dict[str, Any] = field(default_factory=dict)
    budget: Budget = field(default_factory=Budget)
    max_thinking_tokens: int | None = None


def _table() -> dict[str, Any]:
    text = resources.files("thinktime.strategies").joinpath("efforts.toml").read_text()
    table = tomllib.loads(text)
    user = os.environ.get("THINKTIME_EFFORTS")
    if user:
        path = Path(user).expanduser()
        if not path.is_file():
            raise ThinktimeError(f"effort file not found: {path}; fix THINKTIME_EFFORTS")
        for section, rows in tomllib.loads(path.read_text()).items():
            table.setdefault(section, {}).update(rows)
    return table


def effort_for(level: str, model: str) -> Effort:
    """The (strategy, params, budget) that `level` means on `model`."""
    if level not in LEVELS:
        raise ThinktimeError(
            f"unknown reasoning_effort {level!r}; choose one of: {', '.join(LEVELS)}"
        )
    table = _table()
    row = dict(table.get("models", {}).get(model, {}).get(level) or table["default"][level])
    strategy = row.pop("strategy")
    names = {*Budget.model_fields, "max_tokens"}  # max_tokens: the old name, still accepted
    budget_fields = {k: row.pop(k) for k in list(row) if k in names}
    thinking = row.pop("max_thinking_tokens", None)
    if thinking is not None and (not isinstance(thinking, int) or thinking < 1):
        raise ThinktimeError(
            f"bad max_thinking_tokens for reasoning_effort {level!r}: {thinking!r}; "
            "give a whole number of tokens >= 1"
        )
    try:
        budget = Budget(**budget_fields)
    except ValidationError as exc:
        raise ThinktimeError(f"bad budget for reasoning_effort {level!r}: {exc}") from None
    return Effort(strategy, row, budget, thinking)
