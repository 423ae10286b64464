"""The `thinktime` command: thin typer commands over the library.

    $ thinktime solve "A farmer has 3 baskets of 12 apples and sells 10. How many are left?" \\
        --strategy self_consistency -n 4
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from thinktime.cli_common import at_least, console, errors, fail, run_with_progress
from thinktime.cli_distill import distill_app
from thinktime.cli_policy import policy
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


# solve()'s own arguments are options, not strategy parameters: `--param verifier=…` is refused
OWN_OPTIONS = {
    "verifier": "--verifier TEXT", "model": "--model TEXT", "strategy": "--strategy TEXT",
    "reasoning_effort": "--effort TEXT",
    "budget": "--budget-tokens/--budget-flops/--budget-seconds/--budget-dollars",
}  # fmt: skip


def parse_option(item: str) -> tuple[str, object]:
    """`--param max_rounds=3` → ("max_rounds", 3): values are read as JSON when they parse."""
    key, sep, raw = item.partition("=")
    if not sep or not key:
        raise ThinktimeError(f"bad --param {item!r}; write it as NAME=VALUE, e.g. max_rounds=3")
    try:
        return key, json.loads(raw)
    except json.JSONDecodeError:
        return key, raw


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
    seed: Annotated[int | None, typer.Option(help="Sampling seed.")] = None,
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
        sys.stdout.write(json.dumps(result_json(result), indent=2) + "\n")
    else:
        show_result(console, result)


@app.command()
def models() -> None:
    """List known models: installed, cached, size and parameter count."""
    from thinktime.models.card import read_card
    from thinktime.models.known import KNOWN_MODELS
    from thinktime.models.resolve import cache_dir, find_parts, is_cached

    table = Table(title=f"known models (cache: {cache_dir()})")
    for column in ("name", "installed", "cached", "size", "parameters", "description"):
        table.add_column(column)
    for model in KNOWN_MODELS.values():
        parts = find_parts(model)
        in_place = parts is not None and len(parts) == 1
        cached = is_cached(model) or in_place
        params = "—"
        if cached:
            path = parts[0] if in_place and parts else cache_dir() / model.filename
            params = f"{read_card(path).n_params / 1e6:,.0f} M"
        table.add_row(
            model.name + (" (default)" if model.name == DEFAULT_MODEL else ""),
            "yes" if parts else escape(f"no — {model.install_hint}"),
            "yes" if cached else "no",
            f"{model.size_bytes / 2**20:,.0f} MiB",
            params,
            model.description,
        )
    console.print(table)


@app.command()
def strategies() -> None:
    """List strategies with their description, parameters and reference."""
    from thinktime.strategies import STRATEGIES

    table = Table(title="strategies")
    for column in ("name", "description", "parameters", "reference"):
        table.add_column(column)
    for spec in STRATEGIES.values():
        params = ", ".join(
            f"{name}={field.default!r}" for name, field in spec.params_type.model_fields.items()
        )
        table.add_row(spec.name, spec.description, params or "—", spec.reference)
    console.print(table)


@app.command()
def bench(
    task: Annotated[
        str, typer.Option(help="gsm8k, math500, reasoning_gym:FAMILY or jsonl:PATH.")
    ] = "gsm8k",
    model: Annotated[
        list[str] | None, typer.Option("--model", "-m", help="Repeat for several.")
    ] = None,
    strategy: Annotated[
        list[str] | None, typer.Option("--strategy", "-s", help="STRATEGY[:NAME=VALUE,…]; repeat.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Problems to run.")] = None,
    offset: Annotated[int, typer.Option(help="Skip this many problems first.")] = 0,
    sample_seed: Annotated[
        int | None, typer.Option(help="Draw a seeded random subset instead.")
    ] = None,
    level: Annotated[int | None, typer.Option(help="math500: only this level (1-5).")] = None,
    size: Annotated[int, typer.Option(help="reasoning_gym: problems to generate.")] = 100,
    data_dir: Annotated[
        str | None, typer.Option(help="Folder with gsm8k/ and math500/ JSONL (THINKTIME_DATA).")
    ] = None,
    store: Annotated[
        str | None, typer.Option(help="SQLite results file (default runs/TASK.db).")
    ] = None,
    max_tokens: Annotated[int, typer.Option(help="Most tokens per sample.")] = 512,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
) -> None:
    """Run models × strategies over a task; store every sample; print the table; write plots."""
    import os
    from pathlib import Path

    from thinktime.backends.base import load_backend
    from thinktime.bench.configs import parse_config
    from thinktime.bench.report import build_report
    from thinktime.bench.store import Store
    from thinktime.sampling import sampling_params
    from thinktime.tasks import load_task

    try:
        if data_dir:
            os.environ["THINKTIME_DATA"] = data_dir
        configs = strategy or ["cot"]
        for config in configs:
            parse_config(config)
        sampling_params(options=True, max_tokens=max_tokens, seed=seed)
        at_least("--limit", limit, 1)
        at_least("--offset", offset, 0)
        at_least("--size", size, 1)
        if level is not None and not 1 <= level <= 5:
            raise ThinktimeError(f"--level must be 1 to 5 (a MATH level), got {level}")
        name = task.partition(":")[0]
        options = {"limit": limit, "offset": offset or None, "seed": sample_seed}
        if name == "math500":
            options["level"] = level
        if name == "reasoning_gym":
            options = {"size": size, "seed": sample_seed or 0}
        the_task = load_task(task, **options)
        if not the_task.problems:
            raise ThinktimeError(
                f"task {task!r} selected no problems; check --limit/--offset/--level"
            )
        path = Path(store or f"runs/{name}.db")
        results = Store(path)
        backends = {m: load_backend(m, hints={"n_parallel": 16}) for m in model or [DEFAULT_MODEL]}
        run_with_progress(the_task, backends, configs, results, max_tokens, seed)
    except ThinktimeError as exc:
        raise fail(str(exc)) from None
    points = _print_summary(results)
    html = build_report(
        results,
        path.with_suffix(".html"),
        title=f"{the_task.name} · {len(the_task.problems)} problems",
        points=points,
    )
    console.print(f"stored in {path}; report: {html}")


@app.command()
def report(
    store: Annotated[str, typer.Argument(help="A results file written by `thinktime bench`.")],
    out: Annotated[str | None, typer.Option(help="HTML file (default: beside the store).")] = None,
) -> None:
    """Summarise a results store: table, plots and an HTML report."""
    from pathlib import Path

    from thinktime.bench.report import build_report
    from thinktime.bench.store import Store

    path = Path(store)
    try:
        results = Store(path, create=False)
    except ThinktimeError as exc:
        raise fail(str(exc)) from None
    points = _print_summary(results)
    html = out or path.with_suffix(".html")
    try:
        written = build_report(results, html, points=points)
    except OSError as exc:
        raise fail(
            f"cannot write the report {html} ({exc.strerror}: {exc.filename}); "
            "pass --out with a file in a writable folder"
        ) from None
    console.print(f"report: {written}")


def _print_summary(results: Any) -> Any:
    """Print the results table and, with several models, the matched-FLOPs table; return the
    curve points so the report does not derive them again."""
    from thinktime.bench.results import curve_points, summarize
    from thinktime.render import si

    table = Table(title="results")
    for column in (
        "model",
        "config",
        "n",
        "accuracy [95% CI]",
        "tokens/q",
        "FLOPs/q",
        "s/q",
        "overhead",
        "diagnostics",
    ):
        table.add_column(column, justify="right")
    for s in summarize(results):
        table.add_row(
            s.model, s.config, str(s.n), f"{s.accuracy:.1%} [{s.ci[0]:.1%}, {s.ci[1]:.1%}]",
            f"{s.tokens:.0f}", si(s.flops), f"{s.seconds:.1f}", f"{s.overhead:.1%}",
            ", ".join(f"{k} {v}" for k, v in s.verdicts.items() if v),
        )  # fmt: skip
    console.print(table)
    points = curve_points(results)
    _print_matched(points)
    return points


def _print_matched(points: Any) -> None:
    """With two or more models: each point vs the rival's best at no more FLOPs per question."""
    from thinktime.bench.matched import matched
    from thinktime.render import si

    rows = matched(points)
    if not rows:
        return
    table = Table(title="models at matched FLOPs (rival: best config at ≤ these FLOPs/q)")
    for column in ("model", "config", "FLOPs/q", "accuracy", "rival", "rival's best", "accuracy"):
        table.add_column(column, justify="right")
    for m in rows:
        table.add_row(
            m.model, m.config, si(m.flops), f"{m.accuracy:.1%}", m.rival,
            f"{m.rival_config} ({si(m.rival_flops)})" if m.rival_config else "—",
            "—" if m.rival_accuracy is None else f"{m.rival_accuracy:.1%}",
        )  # fmt: skip
    console.print(table)


@app.command()
def plan(
    workload: Annotated[str, typer.Argument(help="A workload YAML file, or `calibrate`.")],
    plot: Annotated[str | None, typer.Option(help="Also write a PNG of devices and $/day.")] = None,
    bench: Annotated[
        str | None, typer.Option(help="Results of `thinktime bench` to choose from.")
    ] = None,
    target: Annotated[
        float | None, typer.Option(help="With --bench: accuracy to reach (0-1).")
    ] = None,
) -> None:
    """Project compute, devices, cost and energy for a workload; `calibrate` measures this CPU."""
    from thinktime.plan.planner import make_plan, write_plot
    from thinktime.plan.workload import load_workload
    from thinktime.render import si

    try:
        if target is not None and not 0 <= target <= 1:
            raise ThinktimeError(f"--target must be an accuracy from 0 to 1, got {target}")
        if workload == "calibrate":  # `thinktime plan calibrate` measures this machine
            _calibrate()
            return
        the_plan = make_plan(load_workload(workload))
    except ThinktimeError as exc:
        raise fail(str(exc)) from None
    w, m = the_plan.workload, the_plan.model
    console.print(
        f"[bold]{w.name}[/bold] — {m.name}: {m.params / 1e9:.1f} B parameters, "
        f"{m.active_params / 1e9:.1f} B active, {m.bytes_per_weight:.2g} bytes/weight"
    )
    console.print(
        f"answers/day {w.requests:,.0f} · prompt tokens/day {si(the_plan.prompt_tokens_per_day)} · "
        f"completion tokens/day {si(the_plan.completion_tokens_per_day)} · "
        f"FLOPs/day {si(the_plan.flops_per_day)}"
    )
    if the_plan.training_flops:
        console.print(
            f"training run (6·N·D) {si(the_plan.training_flops)} FLOPs = "
            f"{the_plan.days_to_match_training:,.1f} days of this inference"
        )
    table = Table(title="which chip")
    for column in ("hardware", "devices", "per replica", "batch", "decode tok/s/replica", "bound",
                   "compute-bound share", "$/day", "kWh/day", "latency/answer"):  # fmt: skip
        table.add_column(column, justify="right")
    for r in the_plan.rows:
        table.add_row(
            r.hardware, f"{r.devices:,}", str(r.devices_per_replica), str(r.batch),
            f"{r.decode_tokens_per_second:,.0f}", r.bound, f"{r.compute_share:.0%}",
            f"{r.usd_per_day:,.0f}", f"{r.kwh_per_day:,.0f}", f"{r.latency_seconds:.1f} s",
        )  # fmt: skip
    console.print(table)
    if plot:
        console.print(f"plot: {write_plot(the_plan, plot)}")
    if bench:
        _cheapest(bench, the_plan.workload, target if target is not None else 0.0)


def _cheapest(bench: str, workload: Any, target: float) -> None:
    from thinktime.bench.store import Store
    from thinktime.plan.cheapest import cheapest

    try:
        options = cheapest(Store(bench, create=False), workload, target)
    except ThinktimeError as exc:
        raise fail(str(exc)) from None
    table = Table(title=f"cheapest configurations reaching {target:.0%} (measured tokens/answer)")
    for column in ("model", "strategy", "accuracy", "hardware", "devices", "$/day"):
        table.add_column(column, justify="right")
    for o in options:
        table.add_row(
            o.model,
            o.config,
            f"{o.accuracy:.1%}",
            o.hardware,
            f"{o.devices:,}",
            f"{o.usd_per_day:,.0f}",
        )
    console.print(table if options else f"no configuration in {bench} reaches {target:.0%}")


def _calibrate() -> None:
    from thinktime.backends.llamacpp import LlamaCppBackend
    from thinktime.models.card import read_card
    from thinktime.models.known import KNOWN_MODELS
    from thinktime.models.resolve import find_parts, is_cached, resolve_model
    from thinktime.plan.calibrate import decode_rate, fit_cpu, write_calibration
    from thinktime.plan.profile import ModelProfile

    # every embedded model installed gives a batch-1 point (sizes differ → bandwidth + overhead)
    names = [n for n, m in KNOWN_MODELS.items() if is_cached(m) or find_parts(m) is not None]
    points, rate_8, main = [], 0.0, None
    for name in sorted(names, key=lambda n: n != DEFAULT_MODEL):
        path = resolve_model(name)
        profile = ModelProfile.from_card(read_card(path), name, file_bytes=path.stat().st_size)
        backend = LlamaCppBackend(path, name, n_parallel=8)
        with errors.status(f"measuring decode on {name}…"):
            points.append((profile, decode_rate(backend, 1)))
            if name == DEFAULT_MODEL:
                main, rate_8 = profile, decode_rate(backend, 8)
        console.print(f"{name}: {points[-1][1]:.1f} tok/s at batch 1")
        del backend
    if main is None:
        raise ThinktimeError(f"the default model {DEFAULT_MODEL} is not installed")
    cpu = fit_cpu(points, main, rate_8)
    written = write_calibration(cpu)
    console.print(
        f"{DEFAULT_MODEL}: {rate_8:.1f} tok/s at batch 8 → cpu profile: "
        f"{cpu.memory_bandwidth / 1e9:.1f} GB/s, {cpu.bf16_flops / 1e9:.1f} GFLOP/s, "
        f"{cpu.step_overhead * 1e3:.2f} ms fixed per step ({written})"
    )


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
) -> None:
    """Serve an OpenAI-compatible reasoning API (POST /v1/chat/completions)."""
    import ipaddress

    import uvicorn

    from thinktime.backends.base import load_backend
    from thinktime.serve.app import ServerConfig, create_app
    from thinktime.serve.policy import ServerPolicy
    from thinktime.verifiers.base import VERIFIERS
    from thinktime.verifiers.sandbox import allow_unsafe_exec

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
    config = ServerConfig(model=model, api_key=api_key, max_concurrent=max_concurrent,
                          max_queue=max_queue, timeout=timeout, policy=rules,
                          open_metrics=open_metrics)  # fmt: skip
    uvicorn.run(create_app(backend, config), host=host, port=port, log_level="warning")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
