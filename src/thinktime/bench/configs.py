"""Parse sweep configs: `STRATEGY` or `STRATEGY:NAME=VALUE,NAME=VALUE` (values read as JSON).

>>> parse_config("self_consistency:n=16")
('self_consistency', {'n': 16})
>>> parse_config("budget_forcing:max_thinking_tokens=128,min_thinking_tokens=64")
('budget_forcing', {'max_thinking_tokens': 128, 'min_thinking_tokens': 64})
"""

from __future__ import annotations

import json
from typing import Any

from thinktime.errors import ThinktimeError
from thinktime.strategies import get_strategy


def parse_config(config: str) -> tuple[str, dict[str, Any]]:
    """(strategy, params), validated against the strategy's parameter model."""
    name, _, rest = config.partition(":")
    params: dict[str, Any] = {}
    for item in filter(None, rest.split(",")):
        key, sep, raw = item.partition("=")
        if not sep:
            raise ThinktimeError(f"bad config {config!r}: write STRATEGY:NAME=VALUE,NAME=VALUE")
        try:
            params[key.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            params[key.strip()] = raw
    get_strategy(name).parse_params(params)  # fail before any compute is spent
    return name, params


def pool_size(strategy: str, params: dict[str, Any]) -> int:
    """Samples a config draws per question when it is a plain i.i.d. pool (else 0)."""
    if strategy in ("self_consistency", "best_of_n") and params.get("sampler", "cot") == "cot":
        return int(params.get("n", get_strategy(strategy).params_type.model_fields["n"].default))
    return 0
