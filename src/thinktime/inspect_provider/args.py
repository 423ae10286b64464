"""Inspect's `-M` model args, parsed once into the typed run every `generate` repeats.

`inspect eval … --model thinktime/MODEL -M KEY=VALUE …` hands the provider a flat mapping
(values read as YAML: `-M n=8` is the integer 8). Each key means exactly one thing:

- `strategy` — the thinktime strategy (default: `cot`, or the one `--reasoning-effort` picks);
- `verifier` — the verifier of a strategy that scores candidates (`best_of_n`, …);
- `budget` — caps on each answer, a mapping: `-M 'budget={max_completion_tokens: 4000}'`;
- an option of MODEL's backend — `n_parallel` for the embedded engine, `base_url`, `timeout`
  for `openai:NAME` — used once, to build the engine;
- anything else is a parameter of the strategy (`n=8`, `sampler=best_of_n`), checked here.

A sampling field is a generate setting with its own Inspect flag, so it is refused as a model
arg (one flag, one meaning):

    >>> run = parse_model_args("fake", {"strategy": "self_consistency", "n": 8})
    >>> run.strategy, run.params.n, run.backend_options
    ('self_consistency', 8, {})
    >>> parse_model_args("fake", {"strategy": "cot", "temperature": 0.2})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    thinktime.errors.ThinktimeError: temperature is a generate setting, ... --temperature ...
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from thinktime.backends.base import BACKENDS, split_spec
from thinktime.compute.budget import Budget
from thinktime.errors import ThinktimeError
from thinktime.sampling import SamplingParams
from thinktime.strategies import get_strategy

# the sampling fields (and the effort) Inspect sets through its own generate options
GENERATE_FLAGS = {
    "max_tokens": "--max-tokens",
    "temperature": "--temperature",
    "top_p": "--top-p",
    "seed": "--seed",
    "stop": "--stop-seqs",
    "max_thinking_tokens": "--reasoning-tokens",
    "reasoning_effort": "--reasoning-effort",
}


@dataclass(frozen=True)
class ModelArgs:
    """One provider's run, as the `-M` args gave it."""

    strategy: str | None  # None: `cot`, or the strategy `--reasoning-effort` picks per call
    # the strategy's typed parameters; a plain mapping while the strategy is left to the effort
    params: BaseModel | dict[str, Any]
    verifier: str | None = None
    budget: Budget | None = None
    backend_options: dict[str, Any] = field(default_factory=dict)  # used once, to build it


def parse_model_args(model: str, args: Mapping[str, Any]) -> ModelArgs:
    """The typed run of `args` for the thinktime model spec `model` (see the module doc)."""
    rest = dict(args)
    for name in sorted(rest.keys() & (set(SamplingParams.model_fields) | set(GENERATE_FLAGS))):
        flag = GENERATE_FLAGS.get(name)
        how = f"pass Inspect's {flag} instead of -M {name}=..." if flag else "Inspect sets none"
        raise ThinktimeError(f"{name} is a generate setting, not a model arg: {how}")
    strategy = _text(rest.pop("strategy", None), "strategy")
    verifier = _text(rest.pop("verifier", None), "verifier")
    budget = _budget(rest.pop("budget", None))
    backend, _ = split_spec(model)
    options = BACKENDS.get_or_fail(backend).accepted(rest)
    params = {k: v for k, v in rest.items() if k not in options}
    # parse at the edge: a misspelt parameter fails when Inspect builds the model, not per sample
    typed = get_strategy(strategy).parse_params(params) if strategy else params
    return ModelArgs(strategy, typed, verifier, budget, options)


def _text(value: object, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ThinktimeError(f"-M {name} takes a name, got {value!r}")


def _budget(value: object) -> Budget | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ThinktimeError(
            f"-M budget takes a mapping, e.g. -M 'budget={{max_completion_tokens: 4000}}'; "
            f"got {value!r}"
        )
    try:
        return Budget(**value)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(map(str, error["loc"])) or "budget"
        raise ThinktimeError(f"bad -M budget: {where}: {error['msg']}") from None
