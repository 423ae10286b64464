"""The typed call: everything `solve` runs, validated once at the edge and passed down unchanged.

Every entry point — `thinktime.solve`, the server's request, a bench config, a Ray item — turns
its raw input into one `Call` with `make_call`: the strategy, its typed params, the
`SamplingParams` of each sample, the `Budget` of the answer, the verifier, the reply format and
the conversation. Every check lives here, once (a bad value is a `CallError` naming what it is
about, so an edge can say which of its fields was at fault); below the edge the call is run as
it is (`thinktime.api.run_call`), and the bench stores it (`record`) so reports read the typed
params back without parsing the config text again (`from_record`).

    >>> call = make_call("self_consistency", shortcuts={"n": 3, "max_tokens": 64})
    >>> call.strategy, call.params.n, call.sampling.max_tokens, call.samples
    ('self_consistency', 3, 64, 3)
    >>> stored = call.record()
    >>> stored["params"]["n"], stored["sampling"]["temperature"], stored["verifier"]
    (3, 0.7, None)
    >>> Call.from_record(stored).params.n
    3
    >>> make_call("cot", verifier="judge")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    thinktime.call.CallError: strategy 'cot' takes no verifier (got 'judge'); ...
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar, get_origin

from pydantic import BaseModel, ValidationError

from thinktime.compute.budget import Budget
from thinktime.errors import ThinktimeError
from thinktime.sampling import SamplingParams, sampling_params
from thinktime.strategies import DEFAULT_STRATEGY, StrategySpec, get_strategy, strategies_that
from thinktime.types import Message, ReplyFormat
from thinktime.verifiers.base import VERIFIERS, Verifier

# what a refused call was wrong about, so an edge can name its own field (the server's
# `thinktime.params`, `thinktime.params.verifier`, …)
M = TypeVar("M", bound=BaseModel)
About = Literal["strategy", "params", "sampling", "budget", "verifier", "reply_format"]


class CallError(ThinktimeError):
    """A call that cannot run: the message says why and what to do; `about` says which part."""

    def __init__(self, message: str, about: About) -> None:
        super().__init__(message)
        self.about = about


@dataclass(frozen=True)
class Call:
    """One validated call of a strategy: built by `make_call` (or `from_record`), never checked
    again; `replace` it to change a field already known to be valid (a choice's seed)."""

    strategy: str  # the registered strategy's name
    params: BaseModel  # its params model, validated
    sampling: SamplingParams  # each sample's (the strategy's default temperature filled in)
    budget: Budget | None = None  # the whole answer's; None: uncapped
    verifier: str | Verifier | None = None  # as given; unset: the judge, where one scores
    scores: bool = False  # whether the strategy (or its composed sampler) uses a verifier
    history: tuple[Message, ...] = ()  # earlier turns of a conversation (and a system prompt)
    reply_format: ReplyFormat | None = None  # tools / a JSON schema (replying strategies only)
    after: tuple[Message, ...] = ()  # an agent's turns after the question
    # a reasoning effort's thinking cap, set on the samples where the engine can end thinking
    # itself (known only when the call runs); an explicit `sampling.max_thinking_tokens` wins
    thinking_cap: int | None = None
    unsafe_exec: bool = False  # a code-running verifier may run without kernel isolation

    @property
    def spec(self) -> StrategySpec:
        return get_strategy(self.strategy)

    @property
    def samples(self) -> int:
        """Samples one question holds in the engine at once (the strategy's declaration)."""
        return self.spec.samples(self.params)

    @property
    def drawn(self) -> int:
        """The most samples one question draws in all (a server's sample cap reads it)."""
        return self.spec.samples_drawn(self.params)

    @property
    def verifier_name(self) -> str | None:
        """The verifier a run scores with, by name (None: it scores with none)."""
        if not self.scores:
            return None
        if self.verifier is None:
            return "judge"
        if isinstance(self.verifier, str):
            return self.verifier
        return str(getattr(self.verifier, "name", type(self.verifier).__name__))

    @property
    def engine_caps_thinking(self) -> bool:
        """Whether the engine must cap thinking: a cap is set on the samples and the strategy
        takes none of its own (`budget_forcing` caps thinking itself, on any engine)."""
        own = "max_thinking_tokens" in type(self.params).model_fields
        return self.sampling.max_thinking_tokens is not None and not own

    def with_sampling(self, **fields: Any) -> Call:
        """The call with sampling fields the edge has already checked (a sweep's `max_tokens`
        and `seed`, a choice's seed) set as they are, without validating them again."""
        return replace(self, sampling=self.sampling.model_copy(update=fields))

    def record(self) -> dict[str, Any]:
        """The call as JSON-ready data, stored beside each bench result: the typed params,
        every sampling field, the verifier's name and the budget."""
        budget = self.budget.model_dump(mode="json", exclude_none=True) if self.budget else None
        return {
            "strategy": self.strategy,
            "params": self.params.model_dump(mode="json"),
            "sampling": self.sampling.model_dump(mode="json"),
            "verifier": self.verifier_name,
            "budget": budget,
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Call:
        """A call `record` wrote, rebuilt without validating: it was validated when it ran (a
        field a later version added takes its default; one it removed is ignored)."""
        spec = get_strategy(record["strategy"])
        budget = record.get("budget")
        return cls(
            spec.name,
            _construct(spec.params_type, record["params"]),
            _construct(SamplingParams, record.get("sampling", {})),
            _construct(Budget, budget) if budget else None,
            record.get("verifier"),
            scores=record.get("verifier") is not None,
        )


def _construct(model: type[M], values: Mapping[str, Any]) -> M:
    """`model` built from its JSON dump without validating: JSON's arrays become tuples again
    where a field is declared a tuple (`stop`), every other value is taken as it is."""
    fields = model.model_fields
    declared: dict[str, Any] = {
        name: tuple(value)
        if isinstance(value, list) and name in fields
        and get_origin(fields[name].annotation) is tuple
        else value
        for name, value in values.items()
    }  # fmt: skip
    return model.model_construct(None, **declared)


def make_call(
    strategy: str | None = None,
    *,
    params: BaseModel | Mapping[str, Any] | None = None,
    sampling: SamplingParams | None = None,
    shortcuts: Mapping[str, Any] | None = None,
    budget: Budget | Mapping[str, Any] | None = None,
    verifier: str | Verifier | None = None,
    history: tuple[Message, ...] = (),
    reply_format: ReplyFormat | None = None,
    after: tuple[Message, ...] = (),
    thinking_cap: int | None = None,
    unsafe_exec: bool = False,
) -> Call:
    """The validated `Call` of `strategy` (default `cot`): `params` (typed, or a mapping
    validated into the strategy's model), `sampling`, and `shortcuts` — names resolved to a
    strategy parameter or a sampling field (`resolve_params`) — then the budget, the verifier
    (only for a strategy that scores with one; a name must be registered) and the reply format
    (only for a strategy that replies with the model's own message). A `CallError` otherwise."""
    try:
        spec = get_strategy(strategy or DEFAULT_STRATEGY)
    except ThinktimeError as exc:
        raise CallError(str(exc), "strategy") from None
    if (reply_format is not None or after) and not spec.replies:
        replying = strategies_that(lambda s: s.replies)
        raise CallError(
            f"strategy {spec.name!r} writes its own prompt and answer, so it cannot take tools, "
            f"a response_format or tool results; use one of: {replying}",
            "reply_format",
        )
    given = dict(params) if isinstance(params, Mapping) else params
    typed, the_sampling = resolve_params(spec, given, sampling, dict(shortcuts or {}))
    scores = check_verifier(spec, typed, verifier)
    return Call(spec.name, typed, the_sampling, parse_budget(budget), verifier, scores,
                history, reply_format, after, thinking_cap, unsafe_exec)  # fmt: skip


def resolve_params(
    spec: StrategySpec,
    params: BaseModel | dict[str, Any] | None,
    sampling: SamplingParams | None,
    shortcuts: dict[str, Any],
) -> tuple[BaseModel, SamplingParams]:
    """(the strategy's typed params, the sampling params) from the typed arguments and the
    keyword shortcuts; the temperature defaults to the strategy's own. A sampling shortcut that
    `sampling` also sets is refused. Typed arguments are used as they are (validated when they
    were built); only what a shortcut changes is validated."""
    own = set(spec.params_type.model_fields)
    sampled = set(SamplingParams.model_fields)
    extra_params = {k: v for k, v in shortcuts.items() if k in own}
    extra_sampling = {k: v for k, v in shortcuts.items() if k not in own and k in sampled}
    if "n" in shortcuts and "n" not in own:
        several = strategies_that(lambda s: "n" in s.params_type.model_fields)
        raise CallError(
            f"strategy {spec.name!r} draws one sample and takes no n; "
            f"to sample several use one of: {several}",
            "params",
        )
    unknown = sorted(shortcuts.keys() - own - sampled)
    if unknown:
        name = unknown[0]
        raise CallError(
            f"got {name}={shortcuts[name]!r}, which is neither a parameter of strategy "
            f"{spec.name!r} ({', '.join(spec.params_type.model_fields) or 'none'}) "
            f"nor a sampling field ({', '.join(SamplingParams.model_fields)})",
            "params",
        )
    typed = _typed_params(spec, params, extra_params)
    given = sampling.model_dump(exclude_unset=True) if sampling is not None else {}
    for name in sorted(extra_sampling.keys() & given.keys()):
        raise CallError(
            f"{name} given twice ({name}={extra_sampling[name]!r} and "
            f"sampling=SamplingParams({name}={given[name]!r})); pass it once",
            "sampling",
        )
    default = {"temperature": spec.default_temperature}
    if sampling is not None and not extra_sampling:  # typed already: only the default is added
        return typed, sampling if "temperature" in given else sampling.model_copy(update=default)
    try:
        return typed, sampling_params(**{**default, **given, **extra_sampling})
    except ThinktimeError as exc:
        raise CallError(str(exc), "sampling") from None


def _typed_params(
    spec: StrategySpec, params: BaseModel | dict[str, Any] | None, changes: dict[str, Any]
) -> BaseModel:
    """The strategy's params: a typed model passed on as it is (validated when it was built,
    at the caller's edge) unless `changes` set a field, which is validated with the rest."""
    try:
        if not isinstance(params, BaseModel):
            return spec.parse_params({**(params or {}), **changes})
        if not isinstance(params, spec.params_type):
            raise ThinktimeError(
                f"params is a {type(params).__name__}, but strategy {spec.name!r} takes "
                f"{spec.params_type.__name__}; pass strategy= to match, or a dict"
            )
        return spec.parse_params({**params.model_dump(), **changes}) if changes else params
    except ThinktimeError as exc:
        raise CallError(str(exc), "params") from None


def check_verifier(spec: StrategySpec, params: BaseModel, verifier: str | Verifier | None) -> bool:
    """Whether a run of `spec` with `params` scores with a verifier; a `CallError` when one is
    given to a strategy that would ignore it, or a verifier name is not registered."""
    if not spec.takes_verifier(params):
        if verifier is not None:
            named = verifier if isinstance(verifier, str) else type(verifier).__name__
            users = strategies_that(lambda s: s.uses_verifier)
            raise CallError(
                f"strategy {spec.name!r} takes no verifier (got {named!r}); "
                f"strategies that do: {users}; leave verifier unset or pick one of those",
                "verifier",
            )
        return False
    if isinstance(verifier, str):
        try:
            VERIFIERS.get_or_fail(verifier)
        except ThinktimeError as exc:
            raise CallError(str(exc), "verifier") from None
    return True


def parse_budget(budget: Budget | Mapping[str, Any] | None) -> Budget | None:
    """The answer's `Budget`: as it is when typed, else validated from its fields."""
    if budget is None or isinstance(budget, Budget):
        return budget
    try:
        return Budget(**budget)
    except ValidationError as exc:
        raise CallError(f"bad budget {dict(budget)}: {exc.errors()[0]['msg']}", "budget") from None
