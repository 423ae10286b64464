"""`NAME=VALUE` assignments and sweep configs, parsed once into typed parameters.

An assignment is `NAME=VALUE`, the value read as JSON when it parses, else taken as text
(`--param max_rounds=3`, and every item of a config). A config (`-s/--strategy` of every
command) is `STRATEGY` or `STRATEGY:NAME=VALUE,NAME=VALUE`, its items split at the commas outside
JSON brackets, braces and strings (`foo:stop=["a,b"],n=2` has two); each NAME is the strategy's
parameter, else a sampling field — `solve`'s rule — except `verifier=NAME`, the verifier that
scores candidates or steps for the strategies that take one (`thinktime strategies`; the judge
when unset). The config becomes the strategy's typed params when it is parsed, so a bad config
fails before any compute with one line naming the valid parameters.

    >>> parse_assignment("max_rounds=3", "bad")
    ('max_rounds', 3)
    >>> config = parse_config("self_consistency:n=16,temperature=0.7")
    >>> config.strategy, config.params.n, config.sampling, config.samples
    ('self_consistency', 16, {'temperature': 0.7}, 16)
    >>> parse_config("particle_filtering:particles=4,verifier=self_certainty").verifier
    'self_certainty'
    >>> parse_config("cot:verifier=judge")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    thinktime.errors.ThinktimeError: bad config 'cot:verifier=judge': ... takes no verifier ...
    >>> parse_config("cot:beams=2")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    thinktime.errors.ThinktimeError: bad config 'cot:beams=2': ... neither a parameter of ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from thinktime.api import check_verifier, resolve_params
from thinktime.assignments import parse_assignment, split_items  # solve's one rule for NAME=VALUE
from thinktime.errors import ThinktimeError
from thinktime.strategies import get_strategy


def split_config(text: str) -> tuple[str, dict[str, Any]]:
    """`STRATEGY[:NAME=VALUE,…]` → (the strategy's name, its NAME → value items), unvalidated.

    >>> split_config('self_consistency:n=4,stop=["a,b"]')
    ('self_consistency', {'n': 4, 'stop': ['a,b']})
    """
    name, _, rest = text.partition(":")
    usage = f"bad config {text!r}: write STRATEGY:NAME=VALUE,NAME=VALUE"
    return name.strip(), dict(parse_assignment(item, usage) for item in split_items(rest))


@dataclass(frozen=True)
class Config:
    """A sweep config, validated: the strategy, its typed params, the sampling it sets."""

    text: str  # as written: results are stored under it
    strategy: str
    params: BaseModel  # the strategy's parameter model, validated
    sampling: dict[str, Any]  # the sampling fields it sets (temperature, top_p, …)
    assignments: dict[str, Any]  # its NAME=VALUE items as written, stored with each result
    samples: int  # samples one question holds at once (the strategy's declaration)
    verifier: str | None = None  # the verifier it scores with (None: the strategy's default)


def parse_config(text: str) -> Config:
    """The config `text`, its NAME=VALUE items resolved and validated (`ThinktimeError` if bad)."""
    name, assignments = split_config(text)
    spec = get_strategy(name)
    items = dict(assignments)
    verifier = items.pop("verifier", None)
    try:
        params, _ = resolve_params(spec, None, None, items)
        if verifier is not None:
            check_verifier(spec, params, verifier)
    except ThinktimeError as exc:
        raise ThinktimeError(f"bad config {text!r}: {exc}") from None
    own = spec.params_type.model_fields
    sampling = {k: v for k, v in items.items() if k not in own}
    return Config(text, spec.name, params, sampling, assignments, spec.samples(params), verifier)


def pool_size(config: Config) -> int:
    """Samples a config draws per question when it is a plain i.i.d. pool (else 0).

    >>> pool_size(parse_config("best_of_n:n=4,mode=weighted")), pool_size(parse_config("cot"))
    (4, 0)
    """
    return get_strategy(config.strategy).pool(config.params)
