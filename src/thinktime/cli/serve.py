"""`thinktime serve`: an OpenAI-compatible reasoning API over one model.

    $ thinktime serve -m qwen2.5-coder-0.5b --port 8000
    thinktime serve: listening on http://127.0.0.1:8000/v1 (model qwen2.5-coder-0.5b; Ctrl-C stops)
    $ curl -s localhost:8000/v1/chat/completions \\
        -d '{"messages": [{"role": "user", "content": "2+2?"}]}'
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from thinktime.cli.common import (
    MaxThinkingTokens,
    UnsafeExec,
    above_zero,
    at_least,
    fail,
    listen_url,
    model_option,
    within,
)
from thinktime.errors import ThinktimeError
from thinktime.models.known import DEFAULT_MODEL
from thinktime.serve.thinking import ReasoningField


def serve(
    model: Annotated[str, model_option("The model to serve.")] = DEFAULT_MODEL,
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
    unsafe_exec: UnsafeExec = False,
    reasoning_field: Annotated[
        ReasoningField,
        typer.Option(
            help="Send the model's thinking as message.reasoning_content (SGLang, "
            "DeepSeek, llama.cpp), message.reasoning (vLLM), or both."
        ),
    ] = "both",
    max_thinking_tokens: MaxThinkingTokens = None,
    view: Annotated[
        bool, typer.Option("--view", help="Show recent answers at /view (thinktime view).")
    ] = False,
    view_size: Annotated[int, typer.Option(help="With --view: answers kept in memory.")] = 100,
) -> None:
    """Serve an OpenAI-compatible reasoning API (POST /v1/chat/completions)."""
    import ipaddress

    from thinktime.backends.base import check_engine, make_backend
    from thinktime.sampling import sampling_params
    from thinktime.serve.app import ServerConfig, create_app
    from thinktime.serve.policy import ServerPolicy
    from thinktime.serve.process import run
    from thinktime.verifiers.base import VERIFIERS

    try:  # every number is checked before anything starts
        within("--port", port, 1, 65535)
        at_least("--max-concurrent", max_concurrent, 1)
        at_least("--max-queue", max_queue, 1)
        above_zero("--timeout", timeout)
        within("--view-size", view_size, 1, 100_000)
        sampling_params(options=True, max_thinking_tokens=max_thinking_tokens)
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
        backend = make_backend(model, hints={"n_parallel": max(8, max_concurrent)})
        check_engine(backend, thinking_cap=max_thinking_tokens is not None,
                     asked="--max-thinking-tokens")  # fmt: skip
    except ThinktimeError as exc:
        raise fail(str(exc)) from None
    config = ServerConfig(model=model, api_key=api_key, allowed_hosts=frozenset(allow_host or ()),
                          max_concurrent=max_concurrent, max_queue=max_queue, timeout=timeout,
                          policy=rules, open_metrics=open_metrics,
                          recent=view_size if view else 0, unsafe_exec=unsafe_exec,
                          reasoning_field=reasoning_field,
                          max_thinking_tokens=max_thinking_tokens)  # fmt: skip
    server = create_app(backend, config)
    if view:
        from thinktime.view.app import create_view_app

        server.mount("/view", create_view_app([], recent=server.state.recent))
    where = f"{listen_url(host, port)}/v1 (model {model}; Ctrl-C stops)"
    # SIGTERM stops it within seconds, work in flight cancelled
    run(server, host, port, announce=f"thinktime serve: listening on {where}")
