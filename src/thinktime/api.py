"""The library entry point: `solve` a question with a model and a strategy, get a billed `Result`.

Everything the CLI does is this call first, so notebooks and programs use it directly:

    >>> import thinktime
    >>> r = thinktime.solve("A farmer has 3 baskets of 12 apples and sells 10. How many are left?",
    ...                     strategy="self_consistency", n=4)  # doctest: +SKIP
    >>> r.answer, r.votes, r.bill.completion_tokens  # doctest: +SKIP
    ('26', {'26': 4.0}, 823)
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from thinktime.backends.base import Backend, OnDelta, caps_thinking, make_backend
from thinktime.compute.budget import Budget
from thinktime.compute.ledger import Ledger
from thinktime.compute.prices import Price, load_prices
from thinktime.errors import ThinktimeError
from thinktime.models.known import DEFAULT_MODEL
from thinktime.sampling import SamplingParams, sampling_params
from thinktime.strategies import (
    DEFAULT_STRATEGY,
    Context,
    StrategySpec,
    get_strategy,
    strategies_that,
)
from thinktime.strategies.effort import effort_for
from thinktime.types import Bill, Message, ReplyFormat, Result
from thinktime.verifiers.base import VERIFIERS, Verifier, make_verifier


def solve(
    question: str,
    *,
    model: str | None = None,
    backend: Backend | None = None,
    strategy: str | None = None,
    params: BaseModel | Mapping[str, Any] | None = None,
    sampling: SamplingParams | None = None,
    budget: Budget | Mapping[str, Any] | None = None,
    reasoning_effort: str | None = None,
    verifier: str | Verifier | None = None,
    unsafe_exec: bool = False,
    history: tuple[Message, ...] = (),
    reply_format: ReplyFormat | None = None,
    after: tuple[Message, ...] = (),
    cancel: threading.Event | None = None,
    on_call: Callable[[Bill], None] | None = None,
    on_delta: OnDelta | None = None,
    price: Price | None = None,
    **shortcuts: Any,
) -> Result:
    """Answer `question` with `strategy` on `model` (default: the embedded default model) or
    an already built `backend` (one of the two, not both). `model` loads the engine for this
    call alone; to answer many questions on one engine, build it once
    (`thinktime.backends.make_backend`) and pass it as `backend`.

    The typed call: `params` is the strategy's parameters (its params model, or a mapping
    validated into it; see `thinktime strategies`), `sampling` how each sample is drawn
    (`SamplingParams`: `max_tokens` is the cap per sample; a temperature left unset is the
    strategy's own, 0 for single-sample ones), `budget` caps the whole answer
    (`max_completion_tokens` counts every sample, reasoning and verifier call; strategies return
    their best answer so far when it runs out). `reasoning_effort` (low | medium | high) picks
    strategy, parameters and budget from the effort table; anything passed explicitly wins.
    The default strategy is `cot`. `verifier` scores candidates for the strategies that use
    one (best_of_n, beam_search, dvts; default: the model-as-judge); a strategy that uses none
    is refused one. `unsafe_exec` lets a verifier named here that runs model-written code
    (`program`) run it with process limits alone where kernel isolation is missing (the
    operator's `--unsafe-exec`); without it such a verifier refuses there. `history` holds
    earlier turns of a conversation (and a system prompt). An agent's step: `reply_format`
    offers tools (or a JSON schema) and `after` holds the turns after the question (the agent's
    calls and their results); only a strategy that replies with the model's own message (`none`,
    `tool_vote`) takes them. Setting `cancel` stops the work at the next token; `on_call` sees
    the bill after each call; `on_delta(choice, text)` sees the strategy's own samples as they
    are generated (on engines that stream: how a single-sample strategy's answer streams
    through `solve`).

    Notebook shortcut: other keyword arguments are strategy parameters or sampling fields, each
    name resolved to exactly one of them (the strategy's own first), so nothing can collide;
    a value given both ways (`n=4` and `params={"n": 8}`, `max_tokens=3` and
    `sampling=SamplingParams(max_tokens=6)`) is refused, never silently picked:

        >>> from thinktime.backends.fake import FakeBackend
        >>> r = solve("2+2?", backend=FakeBackend(["\\boxed{4}"]), strategy="self_consistency",
        ...           n=3, temperature=0.5)
        >>> r.answer, r.details["params"]["n"], r.bill.samples
        ('4', 3, 3)
        >>> solve("2+2?", backend=FakeBackend(), strategy="cot", beams=2)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        thinktime.errors.ThinktimeError: got beams=2, which is neither a parameter of ...
        >>> solve("2+2?", backend=FakeBackend(), strategy="self_consistency", n=4, params={"n": 8})
        Traceback (most recent call last):
        thinktime.errors.ThinktimeError: n given twice (n=4 and params['n']=8); pass it once
    """
    if not question or not question.strip():
        raise ThinktimeError("the question is empty; pass the problem text to solve")
    if backend is not None and model is not None:
        raise ThinktimeError(
            f"pass backend= or model=, not both (got model={model!r} and the backend "
            f"{backend.name!r}); a built backend already holds its model"
        )
    model = model or DEFAULT_MODEL
    _refuse_twice(params, shortcuts)
    chosen = dict(params) if isinstance(params, Mapping) else params
    effort = None
    if reasoning_effort is not None:
        effort = effort_for(reasoning_effort, model if backend is None else backend.name)
        if strategy is None:
            strategy = effort.strategy
            chosen = {**effort.params, **(chosen if isinstance(chosen, dict) else {})}
        budget = budget if budget is not None else effort.budget
    spec = get_strategy(strategy or DEFAULT_STRATEGY)
    if (reply_format is not None or after) and not spec.replies:
        replying = strategies_that(lambda s: s.replies)
        raise ThinktimeError(
            f"strategy {spec.name!r} writes its own prompt and answer, so it cannot take tools, "
            f"a response_format or tool results; use one of: {replying}"
        )
    typed_params, sampling = resolve_params(spec, chosen, sampling, shortcuts)
    the_budget = _budget(budget)
    the_verifier = _verifier(spec, typed_params, verifier, unsafe_exec)
    backend = backend or make_backend(model)  # one engine for this call only
    # the level's thinking cap, where the engine can end thinking itself; an explicit cap wins
    cap = effort.max_thinking_tokens if effort else None
    if cap and sampling.max_thinking_tokens is None and caps_thinking(backend):
        sampling = sampling.with_(max_thinking_tokens=cap)
    if price is None:
        price = load_prices().get(backend.name, Price())
    ledger = Ledger(backend, price, the_budget, cancel=cancel, on_call=on_call, on_delta=on_delta)
    context = Context(ledger, sampling, the_verifier, history, reply_format, after)
    outcome = spec.run(question, context, typed_params)
    return Result(
        question=question,
        answer=outcome.answer,
        strategy=spec.name,
        model=backend.name,
        samples=outcome.samples,
        votes=outcome.votes,
        chosen=outcome.chosen,
        bill=ledger.bill(),
        details={**outcome.details, "params": typed_params.model_dump()},
        # a sample cut exactly where the budget ran out also limited the answer
        budget_limited=ledger.limited or bool(the_budget and the_budget.exceeded(ledger.bill())),
    )


def resolve_params(
    spec: StrategySpec,
    params: BaseModel | dict[str, Any] | None,
    sampling: SamplingParams | None,
    shortcuts: dict[str, Any],
) -> tuple[BaseModel, SamplingParams]:
    """(the strategy's typed params, the sampling params) from the typed arguments and the
    keyword shortcuts; the temperature defaults to the strategy's own. A sampling shortcut that
    `sampling` also sets is refused."""
    own = set(spec.params_type.model_fields)
    sampled = set(SamplingParams.model_fields)
    extra_params = {k: v for k, v in shortcuts.items() if k in own}
    extra_sampling = {k: v for k, v in shortcuts.items() if k not in own and k in sampled}
    if "n" in shortcuts and "n" not in own:
        several = strategies_that(lambda s: "n" in s.params_type.model_fields)
        raise ThinktimeError(
            f"strategy {spec.name!r} draws one sample and takes no n; "
            f"to sample several use one of: {several}"
        )
    unknown = sorted(shortcuts.keys() - own - sampled)
    if unknown:
        name = unknown[0]
        raise ThinktimeError(
            f"got {name}={shortcuts[name]!r}, which is neither a parameter of strategy "
            f"{spec.name!r} ({', '.join(spec.params_type.model_fields) or 'none'}) "
            f"nor a sampling field ({', '.join(SamplingParams.model_fields)})"
        )
    if isinstance(params, BaseModel):
        if not isinstance(params, spec.params_type):
            raise ThinktimeError(
                f"params is a {type(params).__name__}, but strategy {spec.name!r} takes "
                f"{spec.params_type.__name__}; pass strategy= to match, or a dict"
            )
        # validated when it was built (at the caller's edge): passed on as it is, unless a
        # shortcut changes a field, which is then validated with the rest
        typed = (
            spec.parse_params({**params.model_dump(), **extra_params}) if extra_params else params
        )
    else:
        typed = spec.parse_params({**(params or {}), **extra_params})
    given = sampling.model_dump(exclude_unset=True) if sampling is not None else {}
    for name in sorted(extra_sampling.keys() & given.keys()):
        raise ThinktimeError(
            f"{name} given twice ({name}={extra_sampling[name]!r} and "
            f"sampling=SamplingParams({name}={given[name]!r})); pass it once"
        )
    values = {"temperature": spec.default_temperature, **given, **extra_sampling}
    return typed, sampling_params(**values)


def _refuse_twice(
    params: BaseModel | Mapping[str, Any] | None, shortcuts: Mapping[str, Any]
) -> None:
    """Refuse a keyword shortcut that the caller's `params` also sets (an effort's parameters
    are defaults, which a shortcut overrides): which one was meant cannot be told, so neither
    is picked silently."""
    if isinstance(params, BaseModel):
        in_params = {k: getattr(params, k) for k in params.model_fields_set}
    else:
        in_params = dict(params or {})
    for name in sorted(shortcuts.keys() & in_params.keys()):
        raise ThinktimeError(
            f"{name} given twice ({name}={shortcuts[name]!r} and "
            f"params[{name!r}]={in_params[name]!r}); pass it once"
        )


def check_verifier(spec: StrategySpec, params: BaseModel, verifier: str | Verifier | None) -> bool:
    """Whether a run of `spec` with `params` scores with a verifier; a `ThinktimeError` when
    one is given to a strategy that would ignore it, or a verifier name is not registered."""
    if not spec.takes_verifier(params):
        if verifier is not None:
            named = verifier if isinstance(verifier, str) else type(verifier).__name__
            users = strategies_that(lambda s: s.uses_verifier)
            raise ThinktimeError(
                f"strategy {spec.name!r} takes no verifier (got {named!r}); "
                f"strategies that do: {users}; leave verifier unset or pick one of those"
            )
        return False
    if isinstance(verifier, str):
        VERIFIERS.get_or_fail(verifier)
    return True


def _verifier(
    spec: StrategySpec, params: BaseModel, verifier: str | Verifier | None, unsafe_exec: bool
) -> Verifier | None:
    """The verifier a run uses: the one given, or the judge, for a strategy that scores its
    candidates; none for the others, which are refused one (it would go unused)."""
    if not check_verifier(spec, params, verifier):
        return None
    if verifier is None:
        verifier = "judge"
    if isinstance(verifier, str):
        return make_verifier(verifier, unsafe_exec=unsafe_exec)
    return verifier


def _budget(budget: Budget | Mapping[str, Any] | None) -> Budget | None:
    if budget is None or isinstance(budget, Budget):
        return budget
    try:
        return Budget(**budget)
    except ValidationError as exc:
        raise ThinktimeError(f"bad budget {dict(budget)}: {exc.errors()[0]['msg']}") from None
