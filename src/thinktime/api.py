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
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from thinktime.backends.base import Backend, load_backend
from thinktime.compute.budget import Budget
from thinktime.compute.ledger import Ledger
from thinktime.compute.prices import Price, load_prices
from thinktime.errors import ThinktimeError
from thinktime.models.known import DEFAULT_MODEL
from thinktime.sampling import sampling_params
from thinktime.strategies import Context, get_strategy
from thinktime.strategies.effort import effort_for
from thinktime.types import Bill, Message, Result
from thinktime.verifiers.base import Verifier, make_verifier


def solve(
    question: str,
    model: str = DEFAULT_MODEL,
    strategy: str | None = None,
    n: int | None = None,
    *,
    budget: Budget | dict[str, Any] | None = None,
    reasoning_effort: str | None = None,
    history: tuple[Message, ...] = (),
    cancel: threading.Event | None = None,
    on_call: Callable[[Bill], None] | None = None,
    backend: Backend | None = None,
    verifier: str | Verifier | None = "judge",
    temperature: float | None = None,
    max_tokens: int = 1024,
    seed: int | None = None,
    price: Price | None = None,
    **strategy_params: Any,
) -> Result:
    """Answer `question` with `strategy` on `model` (or an already built `backend`).

    `n` and `strategy_params` are the strategy's parameters (see `thinktime strategies`);
    `temperature` defaults to the strategy's own (0 for single-sample ones). `budget` caps the
    spend (strategies return their best answer so far when it runs out); `reasoning_effort`
    (low | medium | high) picks strategy, parameters and budget from the effort table — anything
    passed explicitly wins over it. The default strategy is `cot`. `history` holds earlier turns
    of a conversation (and a system prompt), which every prompt of the strategy starts with.
    Setting `cancel` stops the strategy at its next step; `on_call` sees the bill after each call.
    """
    if not question or not question.strip():
        raise ThinktimeError("the question is empty; pass the problem text to solve")
    if reasoning_effort is not None:
        effort = effort_for(reasoning_effort, model if backend is None else backend.name)
        if strategy is None:
            strategy = effort.strategy
            strategy_params = {**effort.params, **strategy_params}
        budget = budget if budget is not None else effort.budget
    strategy = strategy or "cot"
    if isinstance(budget, dict):
        try:
            budget = Budget(**budget)
        except ValidationError as exc:
            raise ThinktimeError(f"bad budget {budget}: {exc.errors()[0]['msg']}") from None
    spec = get_strategy(strategy)
    if n is not None:
        if "n" not in spec.params_type.model_fields:
            raise ThinktimeError(
                f"strategy {strategy!r} draws one sample and takes no n; "
                "use self_consistency or best_of_n to sample several"
            )
        strategy_params["n"] = n
    params = spec.parse_params(strategy_params)
    sampling = sampling_params(
        temperature=spec.default_temperature if temperature is None else temperature,
        max_tokens=max_tokens,
        seed=seed,
    )
    the_verifier = make_verifier(verifier) if isinstance(verifier, str) else verifier
    backend = backend or load_backend(model)
    if price is None:
        price = load_prices().get(backend.name, Price())
    ledger = Ledger(backend, price, budget, cancel=cancel, on_call=on_call)
    outcome = spec.run(question, Context(ledger, sampling, the_verifier, history), params)
    return Result(
        question=question,
        answer=outcome.answer,
        strategy=strategy,
        model=backend.name,
        samples=outcome.samples,
        votes=outcome.votes,
        chosen=outcome.chosen,
        bill=ledger.bill(),
        details={**outcome.details, "params": params.model_dump()},
        budget_limited=ledger.limited,
    )
