"""The `thinktime` command: thin typer commands over the library.

    $ thinktime solve "A farmer has 3 baskets of 12 apples and sells 10. How many are left?" \\
        --strategy self_consistency -n 4
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from thinktime.cli_bench import bench, report
from thinktime.cli_common import (
    SEED_MAX,
    above_zero,
    at_least,
    console,
    errors,
    fail,
    print_json,
    within,
)
from thinktime.cli_distill import distill_app
from thinktime.cli_list import models, strategies
from thinktime.cli_plan import plan
from thinktime.cli_policy import policy
from thinktime.cli_replay import replay
from thinktime.cli_view import view
from thinktime.errors import ThinktimeError
from thinktime.models.known import DEFAULT_MODEL

app = typer.Typer(
    help="Reason with inference-time compute; every answer carries its compute bill.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(distill_app, name="distill")
app.command()(policy)


def _version(value: bool) -> None:
    if value:
        from thinktime import __version__

        console.print(f"thinktime {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Reason with inference-time compute; every answer carries its compute bill."""


# solve()'s own arguments are options, not strategy parameters: `--param verifier=…` is refused
OWN_OPTIONS = {
    "verifier": "--verifier TEXT", "model": "--model TEXT", "strategy": "--strategy TEXT",
    "reasoning_effort": "--effort TEXT",
    "budget": "--budget-tokens/--budget-flops/--budget-seconds/--budget-dollars",
    "sampling": "--temperature/--max-tokens/--seed", "params": "--param NAME=VALUE",
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


@app.command()
def solve(
    question: Annotated[str, typer.Argument(help="The problem to solve.")],
    model: Annotated[
        str, typer.Option("--model", "-m", help="Short name, .gguf path, hf:…, or openai:NAME.")
    ] = DEFAULT_MODEL,
    strategy: Annotated[
        str | None,
        typer.Option("--strategy", "-s", help="See `thinktime strategies` (default: cot)."),
    ] = None,
    n: Annotated[int | None, typer.Option("-n", help="Samples, for sampling strategies.")] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Strategy parameter NAME=VALUE.")
    ] = None,
    temperature: Annotated[
        float | None, typer.Option(help="Sampling temperature (default: the strategy's).")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option(help="Most tokens per sample (default 1024).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Sampling seed (0 to 2**32 - 1).")] = None,
    effort: Annotated[
        str | None, typer.Option("--effort", "-e", help="reasoning_effort: low | medium | high.")
    ] = None,
    verifier: Annotated[
        str, typer.Option(help="Verifier for best_of_n / search: judge, program, prm.")
    ] = "judge",
    budget_tokens: Annotated[
        int | None,
        typer.Option(help="Budget: most generated tokens for the answer (all samples)."),
    ] = None,
    budget_flops: Annotated[float | None, typer.Option(help="Budget: most FLOPs.")] = None,
    budget_seconds: Annotated[float | None, typer.Option(help="Budget: most wall seconds.")] = None,
    budget_dollars: Annotated[float | None, typer.Option(help="Budget: most dollars.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the full result as JSON.")] = False,
) -> None:
    """Answer QUESTION with a strategy; print the reasoning, answer, votes and bill."""
    from thinktime.api import solve as solve_question
    from thinktime.render import result_json, show_result
    from thinktime.sampling import sampling_params

    try:
        extra: dict[str, Any] = dict(parse_option(item) for item in param or [])
        at_least("-n", n, 1)
        within("--seed", seed, 0, SEED_MAX)
        at_least("--budget-tokens", budget_tokens, 1)
        for option, value in (("--budget-flops", budget_flops),
                              ("--budget-seconds", budget_seconds),
                              ("--budget-dollars", budget_dollars)):  # fmt: skip
            above_zero(option, value)
        if "n" in extra:  # `--param n=8` is `-n 8`
            if n is not None:
                raise ThinktimeError("n given twice (-n and --param n=…); pass it once")
            n = extra.pop("n")
            at_least("--param n", n, 1)
        for key in sorted(extra.keys() & OWN_OPTIONS.keys()):
            raise ThinktimeError(
                f"bad --param {key}={extra[key]!r}: {key} is not a strategy parameter; "
                f"use {OWN_OPTIONS[key]}"
            )
        options = {"max_tokens": max_tokens, "seed": seed, "temperature": temperature}
        given = {k: v for k, v in options.items() if v is not None}
        for key in sorted(extra.keys() & given.keys()):
            raise ThinktimeError(f"{key} given twice (--{key.replace('_', '-')} and --param)")
        sampling = sampling_params(options=True, **{"max_tokens": 1024, **given})
        caps = {
            "max_completion_tokens": budget_tokens, "max_flops": budget_flops,
            "max_seconds": budget_seconds, "max_dollars": budget_dollars,
        }  # fmt: skip
        budget = {k: v for k, v in caps.items() if v is not None} or None
        shortcuts = {**extra, **({"n": n} if n is not None else {})}
        with errors.status(
            f"thinking with {model} ({strategy or effort or 'cot'})…", spinner="dots"
        ):
            result = solve_question(
                question, model=model, strategy=strategy, sampling=sampling, budget=budget,
                reasoning_effort=effort, verifier=verifier, **shortcuts,
            )  # fmt: skip
    except ThinktimeError as exc:
        raise fail(str(exc)) from None
    if as_json:
        print_json(result_json(result))
    else:
        show_result(console, result)


app.command()(models)
app.command()(strategies)
app.command()(bench)
app.command()(report)
app.command()(replay)
app.command()(plan)
app.command()(view)


@app.command()
def serve(
    model: Annotated[
        str, typer.Option("--model", "-m", help="The model to serve.")
    ] = DEFAULT_MODEL,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    api_key: Annotated[
        str | None, typer.Option(envvar="THINKTIME_API_KEY", help="Require this bearer key.")
    ] = None,
    allow_host: Annotated[
        list[str] | None,
        typer.Option(help="Without a key: answer this Host name too (a proxy's); repeatable."),
    ] = None,
    max_concurrent: Annotated[int, typer.Option(help="Requests running at once.")] = 8,
    max_queue: Annotated[int, typer.Option(help="Requests admitted before 429s.")] = 64,
    timeout: Annotated[float, typer.Option(help="Seconds before a request gets 504.")] = 300.0,
    policy: Annotated[
        Path | None, typer.Option(help="TOML file: what clients may run (docs/security.md).")
    ] = None,
    allow_verifier: Annotated[
        list[str] | None,
        typer.Option(help="Let clients name this verifier too (program, prm); repeatable."),
    ] = None,
    open_metrics: Annotated[
        bool, typer.Option(help="Serve /metrics without the key (for a scraper).")
    ] = False,
    unsafe_exec: Annotated[
        bool,
        typer.Option(help="Run model code with process limits alone where namespaces are missing."),
    ] = False,
    view: Annotated[
        bool, typer.Option("--view", help="Show recent answers at /view (thinktime view).")
    ] = False,
    view_size: Annotated[int, typer.Option(help="With --view: answers kept in memory.")] = 100,
) -> None:
    """Serve an OpenAI-compatible reasoning API (POST /v1/chat/completions)."""
    import ipaddress

    from thinktime.backends.base import load_backend
    from thinktime.serve.app import ServerConfig, create_app
    from thinktime.serve.policy import ServerPolicy
    from thinktime.serve.process import run
    from thinktime.verifiers.base import VERIFIERS
    from thinktime.verifiers.sandbox import allow_unsafe_exec

    try:  # every number is checked before anything starts
        within("--port", port, 1, 65535)
        at_least("--max-concurrent", max_concurrent, 1)
        at_least("--max-queue", max_queue, 1)
        above_zero("--timeout", timeout)
        within("--view-size", view_size, 1, 100_000)
    except ThinktimeError as exc:
        raise fail(str(exc)) from None
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback and not api_key:
        raise fail(
            f"refusing to bind {host} without an API key; pass --api-key or set THINKTIME_API_KEY"
        )
    try:
        rules = ServerPolicy.load(policy) if policy else ServerPolicy()
        if allow_verifier:
            rules = ServerPolicy.build(
                {**rules.model_dump(), "verifiers": [*rules.verifiers, *allow_verifier]}
            )
        unknown = sorted(set(rules.verifiers) - set(VERIFIERS))
        if unknown:
            raise ThinktimeError(
                f"unknown verifier {unknown[0]!r} in the policy; "
                f"choose from: {', '.join(VERIFIERS)}"
            )
        allow_unsafe_exec(unsafe_exec)
        backend = load_backend(model, hints={"n_parallel": max(8, max_concurrent)})
    except ThinktimeError as exc:
        raise fail(str(exc)) from None
    config = ServerConfig(model=model, api_key=api_key, allowed_hosts=frozenset(allow_host or ()),
                          max_concurrent=max_concurrent, max_queue=max_queue, timeout=timeout,
                          policy=rules, open_metrics=open_metrics,
                          recent=view_size if view else 0)  # fmt: skip
    server = create_app(backend, config)
    if view:
        from thinktime.view.app import create_view_app

        server.mount("/view", create_view_app([], recent=server.state.recent))
    run(server, host, port)  # SIGTERM stops it within seconds, work in flight cancelled


def main() -> None:
    app()


if __name__ == "__main__":
    main()
