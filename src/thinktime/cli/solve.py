"""`thinktime solve`: answer one question with a strategy; print the answer and its bill.

    $ thinktime solve "A farmer has 3 baskets of 12 apples and sells 10. How many are left?" \\
        -s self_consistency:n=4
    $ thinktime solve "2+2?" -s best_of_n -n 4 --verifier judge --json | jq .bill
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from thinktime.cli.common import (
    DEFAULT_MAX_TOKENS,
    SEED_MAX,
    AsJson,
    MaxThinkingTokens,
    MaxTokens,
    UnsafeExec,
    above_zero,
    at_least,
    console,
    errors,
    fail,
    model_option,
    print_json,
    strategy_option,
    within,
)
from thinktime.errors import ThinktimeError
from thinktime.models.known import DEFAULT_MODEL
from thinktime.strategies import DEFAULT_STRATEGY

# solve()'s own arguments are options, not strategy parameters: `--param verifier=…` is refused
OWN_OPTIONS = {
    "verifier": "--verifier TEXT", "model": "-m/--model TEXT", "strategy": "-s/--strategy TEXT",
    "reasoning_effort": "--effort TEXT", "unsafe_exec": "--unsafe-exec",
    "budget": "--budget-tokens/--budget-flops/--budget-seconds/--budget-dollars",
    "sampling": "--temperature/--max-tokens/--max-thinking-tokens/--seed",
    "params": "--param NAME=VALUE",
    **dict.fromkeys(
        ("backend", "history", "cancel", "on_call", "on_delta", "price", "question"),
        "thinktime.solve() in Python (no CLI option)",
    ),
}  # fmt: skip


def parse_option(item: str) -> tuple[str, Any]:
    """`--param max_rounds=3` → ("max_rounds", 3): the NAME=VALUE parser bench configs use."""
    from thinktime.bench.configs import parse_assignment

    return parse_assignment(
        item, f"bad --param {item!r}; write it as NAME=VALUE, e.g. max_rounds=3"
    )


def strategy_and_params(
    strategy: str | None, param: list[str], n: int | None = None
) -> tuple[str | None, dict]:
    """`-s NAME:PARAM=VALUE,…`, `-p PARAM=VALUE` and `-n N` (`n=N`), merged: (the strategy's
    name, its NAME=VALUE items); a NAME given in two of them is refused (one dict holds one
    value: which was meant cannot be told). Each item is still the library's to resolve."""
    from thinktime.bench.configs import split_config

    name, extra = split_config(strategy) if strategy is not None else (None, {})
    source = dict.fromkeys(extra, "--strategy …:")
    given = [(*parse_option(item), "--param") for item in param]
    if n is not None:
        given.append(("n", n, "-n"))
    for key, value, where in given:
        if key in extra:
            raise ThinktimeError(f"{key} given twice ({source[key]}{key}=… and {where})")
        extra[key], source[key] = value, f"{where} "
    return name, extra


def solve(
    ctx: typer.Context,
    question: Annotated[str, typer.Argument(help="The problem to solve.")],
    model: Annotated[str, model_option()] = DEFAULT_MODEL,
    strategy: Annotated[str | None, strategy_option(f"Default: {DEFAULT_STRATEGY}.")] = None,
    n: Annotated[int | None, typer.Option("-n", help="Samples, for sampling strategies.")] = None,
    param: Annotated[
        list[str] | None,
        typer.Option("--param", "-p", help="Strategy parameter PARAM=VALUE (VALUE JSON or text)."),
    ] = None,
    temperature: Annotated[
        float | None, typer.Option(help="Sampling temperature (default: the strategy's).")
    ] = None,
    max_tokens: MaxTokens = DEFAULT_MAX_TOKENS,
    max_thinking_tokens: MaxThinkingTokens = None,
    seed: Annotated[int | None, typer.Option(help="Sampling seed (0 to 2**32 - 1).")] = None,
    effort: Annotated[
        str | None, typer.Option("--effort", "-e", help="reasoning_effort: low | medium | high.")
    ] = None,
    verifier: Annotated[
        str | None,
        typer.Option(
            help="Verifier, for a strategy that uses one (best_of_n, search): judge, "
            "program, prm; default: the strategy's."
        ),
    ] = None,
    budget_tokens: Annotated[
        int | None,
        typer.Option(help="Budget: most generated tokens for the answer (all samples)."),
    ] = None,
    budget_flops: Annotated[float | None, typer.Option(help="Budget: most FLOPs.")] = None,
    budget_seconds: Annotated[float | None, typer.Option(help="Budget: most wall seconds.")] = None,
    budget_dollars: Annotated[float | None, typer.Option(help="Budget: most dollars.")] = None,
    unsafe_exec: UnsafeExec = False,
    as_json: AsJson = False,
) -> None:
    """Answer QUESTION with a strategy; print the reasoning, answer, votes and bill."""
    from thinktime.api import solve as solve_question
    from thinktime.render import result_json, show_result
    from thinktime.sampling import sampling_params

    try:
        at_least("-n", n, 1)
        within("--seed", seed, 0, SEED_MAX)
        at_least("--budget-tokens", budget_tokens, 1)
        for option, value in (("--budget-flops", budget_flops),
                              ("--budget-seconds", budget_seconds),
                              ("--budget-dollars", budget_dollars)):  # fmt: skip
            above_zero(option, value)
        name, extra = strategy_and_params(strategy, param or [], n)
        for key in sorted(extra.keys() & OWN_OPTIONS.keys()):
            raise ThinktimeError(
                f"bad --param {key}={extra[key]!r}: {key} is not a strategy parameter; "
                f"use {OWN_OPTIONS[key]}"
            )
        source = ctx.get_parameter_source("max_tokens")  # typed, or the default
        typed = source is not None and source.name != "DEFAULT"
        options = {"max_tokens": max_tokens if typed else None, "seed": seed,
                   "temperature": temperature,
                   "max_thinking_tokens": max_thinking_tokens}  # fmt: skip
        given = {k: v for k, v in options.items() if v is not None}
        # only what was typed is set: --max-tokens' default is SamplingParams' own (1024);
        # an item that sets a field typed here too is the library's to refuse
        sampling = sampling_params(options=True, **given)
        caps = {
            "max_completion_tokens": budget_tokens, "max_flops": budget_flops,
            "max_seconds": budget_seconds, "max_dollars": budget_dollars,
        }  # fmt: skip
        budget = {k: v for k, v in caps.items() if v is not None} or None
        # each item is the strategy's parameter, else a sampling field: the library resolves
        # it and refuses what clashes (a value given twice, a verifier the strategy won't use)
        with errors.status(f"thinking with {model} ({strategy or effort or DEFAULT_STRATEGY})…",
                           spinner="dots"):  # fmt: skip
            result = solve_question(
                question, model=model, strategy=name, sampling=sampling, budget=budget,
                reasoning_effort=effort, verifier=verifier, unsafe_exec=unsafe_exec, **extra,
            )  # fmt: skip
    except ThinktimeError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json(result_json(result))
    else:
        show_result(console, result)
