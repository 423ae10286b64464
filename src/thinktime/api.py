"""The library entry point: `solve` a question with a model and a strategy, get a billed `Result`.

Everything the CLI does is this call first, so notebooks and programs use it directly. `solve`
reads its keyword arguments into one typed `Call` (`thinktime.call.make_call`: every check, once)
and runs it with `run_call`, which the server and the bench call with the `Call` they built at
their own edge:

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

from pydantic import BaseModel

from thinktime.backends.base import Backend, OnDelta, caps_thinking, make_backend
from thinktime.call import Call, check_verifier, make_call, resolve_params
from thinktime.compute.budget import Budget
from thinktime.compute.ledger import Ledger
from thinktime.compute.prices import Price, load_prices
from thinktime.errors import ThinktimeError
from thinktime.models.known import DEFAULT_MODEL
from thinktime.sampling import SamplingParams
from thinktime.strategies import Context
from thinktime.strategies.effort import effort_for
from thinktime.types import Bill, Message, ReplyFormat, Result
from thinktime.verifiers.base import Verifier, make_verifier

# `make_call`'s checks, for the callers that resolve params themselves (the lm-eval model)
__all__ = ["Call", "check_verifier", "make_call", "resolve_params", "run_call", "solve"]


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
    calls and their results); only a strategy that replies with the model's own message (`plain`,
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
        thinktime.call.CallError: got beams=2, which is neither a parameter of ...
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
    cap = None
    if reasoning_effort is not None:  # the level's strategy, params, budget and thinking cap
        effort = effort_for(reasoning_effort, model if backend is None else backend.name)
        if strategy is None:
            strategy = effort.strategy
            chosen = {**effort.params, **(chosen if isinstance(chosen, dict) else {})}
        budget = budget if budget is not None else effort.budget
        cap = effort.max_thinking_tokens
    # the one typed call, every check done here; below, it is only run
    call = make_call(strategy, params=chosen, sampling=sampling, shortcuts=shortcuts,
                     budget=budget, verifier=verifier, history=history,
                     reply_format=reply_format, after=after, thinking_cap=cap,
                     unsafe_exec=unsafe_exec)  # fmt: skip
    backend = backend or make_backend(model)  # one engine for this call only
    return run_call(call, question, backend, cancel=cancel, on_call=on_call, on_delta=on_delta,
                    price=price)  # fmt: skip


def run_call(
    call: Call,
    question: str,
    backend: Backend,
    *,
    cancel: threading.Event | None = None,
    on_call: Callable[[Bill], None] | None = None,
    on_delta: OnDelta | None = None,
    price: Price | None = None,
) -> Result:
    """Answer `question` with an already validated `call` (`make_call`; the server's request,
    a bench config) on `backend`, with nothing checked again: the verifier is built, the
    ledger opened, and the strategy run with the call's typed params as they are.

        >>> from thinktime.backends.fake import FakeBackend
        >>> call = make_call("self_consistency", shortcuts={"n": 2})
        >>> result = run_call(call, "2+2?", FakeBackend(["\\boxed{4}"]))
        >>> result.answer, result.bill.samples
        ('4', 2)
    """
    sampling = call.sampling
    # the effort's thinking cap, where the engine can end thinking; an explicit cap wins
    if call.thinking_cap and sampling.max_thinking_tokens is None and caps_thinking(backend):
        sampling = sampling.model_copy(update={"max_thinking_tokens": call.thinking_cap})
    if price is None:
        price = load_prices().get(backend.name, Price())
    ledger = Ledger(backend, price, call.budget, cancel=cancel, on_call=on_call, on_delta=on_delta)
    context = Context(ledger, sampling, _verifier(call), call.history, call.reply_format,
                      call.after)  # fmt: skip
    outcome = call.spec.run(question, context, call.params)
    return Result(
        question=question,
        answer=outcome.answer,
        strategy=call.strategy,
        model=backend.name,
        samples=outcome.samples,
        votes=outcome.votes,
        chosen=outcome.chosen,
        bill=ledger.bill(),
        details={**outcome.details, "params": call.params.model_dump()},
        # a sample cut exactly where the budget ran out also limited the answer
        budget_limited=ledger.limited or bool(call.budget and call.budget.exceeded(ledger.bill())),
    )


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


def _verifier(call: Call) -> Verifier | None:
    """The verifier a call's run scores with: the one given, or the judge, for a strategy
    that scores its candidates (`make_call` refused one to the others)."""
    if not call.scores:
        return None
    if call.verifier is None or isinstance(call.verifier, str):
        return make_verifier(call.verifier or "judge", unsafe_exec=call.unsafe_exec)
    return call.verifier
