"""`NAME=VALUE` assignments and sweep configs, parsed once into typed parameters.

An assignment is `NAME=VALUE`, the value read as JSON when it parses, else taken as text
(`--param max_rounds=3`, and every item of a config). A config (`-s/--strategy` of every
command) is `STRATEGY` or `STRATEGY:NAME=VALUE,NAME=VALUE`, its items split at the commas outside
JSON brackets, braces and strings (`foo:stop=["a,b"],n=2` has two); each NAME is the strategy's
parameter, else a sampling field — `solve`'s rule — except `verifier=NAME`, the verifier that
scores candidates or steps for the strategies that take one (`thinktime strategies`; the judge
when unset). The config becomes one typed `Call` (`thinktime.call`) when it is parsed, so a bad
config fails before any compute with one line naming the valid parameters; every item of a
sweep runs that call, and the store records it beside each result, so a report reads the typed
params back (`stored_call`) instead of parsing the text again.

    >>> parse_assignment("max_rounds=3", "bad")
    ('max_rounds', 3)
    >>> config = parse_config("self_consistency:n=16,temperature=0.7")
    >>> config.strategy, config.params.n, config.sampling, config.samples
    ('self_consistency', 16, {'temperature': 0.7}, 16)
    >>> parse_config("particle_filtering:particles=4,verifier=self_certainty").call.verifier
    'self_certainty'
    >>> parse_config("cot:verifier=judge")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    thinktime.errors.ThinktimeError: bad config 'cot:verifier=judge': ... takes no verifier ...
    >>> parse_config("cot:beams=2")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    thinktime.errors.ThinktimeError: bad config 'cot:beams=2': ... neither a parameter of ...
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from thinktime.assignments import parse_assignment, split_items  # solve's one rule for NAME=VALUE
from thinktime.call import Call, make_call
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
    """A sweep config, validated: its text, its items, and the typed `Call` every item runs."""

    text: str  # as written: results are stored under it
    call: Call  # the strategy, its typed params, the sampling it sets and its verifier
    sampling: dict[str, Any]  # the sampling fields it sets (temperature, top_p, …)
    assignments: dict[str, Any]  # its NAME=VALUE items as written, stored with each result
    samples: int  # samples one question holds at once (the strategy's declaration)

    @property
    def strategy(self) -> str:
        return self.call.strategy

    @property
    def params(self) -> BaseModel:
        """The strategy's parameter model, validated."""
        return self.call.params

    def sweep_call(self, max_tokens: int, seed: int | None) -> Call:
        """The call one item runs: the sweep's `max_tokens` and `seed` (checked at the sweep's
        edge), unless the config sets them itself — the config wins."""
        sweep = {"max_tokens": max_tokens, "seed": seed}
        return self.call.with_sampling(**{k: v for k, v in sweep.items() if k not in self.sampling})


def parse_config(text: str) -> Config:
    """The config `text`, its NAME=VALUE items resolved and validated (`ThinktimeError` if bad)."""
    name, assignments = split_config(text)
    spec = get_strategy(name)
    items = dict(assignments)
    verifier = items.pop("verifier", None)
    try:
        call = make_call(spec.name, shortcuts=items, verifier=verifier)
    except ThinktimeError as exc:
        raise ThinktimeError(f"bad config {text!r}: {exc}") from None
    own = spec.params_type.model_fields
    sampling = {k: v for k, v in items.items() if k not in own}
    return Config(text, call, sampling, assignments, call.samples)


def stored_call(text: str, record: str | None) -> Call:
    """The call a stored result ran, from the `call` recorded beside it (typed, not validated
    again); a result stored before calls were (schema 7 and older) has its config text parsed.

    >>> import json
    >>> recorded = json.dumps(parse_config("self_consistency:n=4").call.record())
    >>> stored_call("self_consistency:n=4", recorded).params.n, stored_call("cot", None).strategy
    (4, 'cot')
    """
    if record:
        return Call.from_record(json.loads(record))
    return parse_config(text).call


def pool_size(config: Config | Call) -> int:
    """Samples a config (or a stored call) draws per question when it is a plain i.i.d. pool
    (else 0).

    >>> pool_size(parse_config("best_of_n:n=4,mode=weighted")), pool_size(parse_config("cot"))
    (4, 0)
    """
    call = config.call if isinstance(config, Config) else config
    return call.spec.pool(call.params)
