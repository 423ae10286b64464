"""`thinktime bench` and `thinktime report`: run a sweep into a results store; summarise one.

    $ thinktime bench --task gsm8k --limit 100 -m qwen2.5-coder-0.5b -s cot \\
        -s self_consistency:n=16 --store runs/gsm8k.db
    $ thinktime report --store runs/gsm8k.db --json | jq '.results[] | {config, accuracy}'
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer

from thinktime.cli.common import (
    DEFAULT_MAX_TOKENS,
    SEED_MAX,
    AsJson,
    MaxThinkingTokens,
    MaxTokens,
    at_least,
    console,
    errors,
    fail,
    model_option,
    print_json,
    run_on_ray,
    run_with_progress,
    store_option,
    strategy_option,
    within,
)
from thinktime.errors import ThinktimeError
from thinktime.models.known import DEFAULT_MODEL
from thinktime.strategies import DEFAULT_STRATEGY
from thinktime.tasks import DEFAULT_TASK

# each backend takes what it declares: the embedded engine's 16 slots, or as many requests in
# flight to a server as the sweep keeps questions in flight (17 for one-sample configs)
SWEEP_HINTS = {"n_parallel": 16, "max_concurrency": 17}


def bench(
    task: Annotated[
        str, typer.Option(help="gsm8k, math500, reasoning_gym:FAMILY or jsonl:PATH.")
    ] = DEFAULT_TASK,
    model: Annotated[
        list[str] | None, model_option(f"Repeat for several; default {DEFAULT_MODEL}.")
    ] = None,
    strategy: Annotated[
        list[str] | None, strategy_option(f"Repeat for several; default {DEFAULT_STRATEGY}.")
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Problems to run.")] = None,
    offset: Annotated[int, typer.Option(help="Skip this many problems first.")] = 0,
    sample_seed: Annotated[
        int | None, typer.Option(help="Draw a seeded random subset instead.")
    ] = None,
    level: Annotated[int | None, typer.Option(help="math500: only this level (1-5).")] = None,
    size: Annotated[
        int | None, typer.Option(help="reasoning_gym: problems to generate (default 100).")
    ] = None,
    data_dir: Annotated[
        str | None, typer.Option(help="Folder with gsm8k/ and math500/ JSONL (THINKTIME_DATA).")
    ] = None,
    store: Annotated[str | None, store_option("Default: runs/TASK.db.")] = None,
    max_tokens: MaxTokens = DEFAULT_MAX_TOKENS,
    max_thinking_tokens: MaxThinkingTokens = None,
    seed: Annotated[int, typer.Option(help="Sampling seed (0 to 2**32 - 1).")] = 0,
    ray: Annotated[
        bool, typer.Option("--ray", help="Spread the sweep over Ray workers (pip install ray).")
    ] = False,
    ray_address: Annotated[
        str | None, typer.Option(help="Ray cluster to join (default: start a local one).")
    ] = None,
    workers: Annotated[int, typer.Option(help="Ray workers, each with its own backend.")] = 2,
    worker_threads: Annotated[
        int | None, typer.Option(help="CPU threads of each worker's embedded engine.")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Run models × strategies over a task; store every sample; print the table; write plots."""

    from thinktime.backends.base import check_engine, make_backend
    from thinktime.bench.configs import parse_config
    from thinktime.bench.report import build_report
    from thinktime.bench.results import curve_points
    from thinktime.bench.store import Store
    from thinktime.sampling import sampling_params
    from thinktime.tasks import load_task

    try:
        sampling_params(options=True, max_tokens=max_tokens, seed=seed,
                        max_thinking_tokens=max_thinking_tokens)  # fmt: skip
        # each config parsed once, here: the sweep and every item get it typed
        configs = [
            parse_config(capped(text, max_thinking_tokens))
            for text in strategy or [DEFAULT_STRATEGY]
        ]
        within("--seed", seed, 0, SEED_MAX)
        at_least("--sample-seed", sample_seed, 0)
        at_least("--limit", limit, 1)
        at_least("--offset", offset, 0)
        at_least("--size", size, 1)
        at_least("--workers", workers, 1)
        at_least("--worker-threads", worker_threads, 1)
        if (ray_address or worker_threads) and not ray:
            raise ThinktimeError("--ray-address and --worker-threads go with --ray")
        if level is not None and not 1 <= level <= 5:
            raise ThinktimeError(f"--level must be 1 to 5 (a MATH level), got {level}")
        # each task takes the options its loader declares; one it lacks is refused there
        options = {"limit": limit, "offset": offset or None, "seed": sample_seed,
                   "level": level, "size": size}  # fmt: skip
        the_task = load_task(task, data_dir=data_dir, **options)
        if not the_task.problems:
            raise ThinktimeError(
                f"task {task!r} selected no problems; check --limit/--offset/--level"
            )
        path = Path(store or default_store(task))
        results = Store(path)
        models = model or [DEFAULT_MODEL]
        overhead = None
        if ray:
            threads = {"n_threads": worker_threads} if worker_threads else {}
            stats = run_on_ray(
                the_task, models, configs, results, workers=workers, address=ray_address,
                max_tokens=max_tokens, seed=seed, cpus_per_worker=worker_threads or 1,
                hints={**SWEEP_HINTS, **threads},
            )  # fmt: skip
            (errors if as_json else console).print(
                f"ray: {workers} workers stored {stats.stored} results; "
                f"{stats.workers_lost} workers lost, {stats.retried} items retried"
            )
        else:
            # one engine per model, loaded once and shared by every config of the sweep
            backends = {m: make_backend(m, hints=SWEEP_HINTS) for m in dict.fromkeys(models)}
            capping = [c.text for c in configs if c.call.engine_caps_thinking]
            if max_thinking_tokens is not None and capping:  # a cap no engine call could carry
                for backend in backends.values():
                    check_engine(backend, thinking_cap=True,
                                 asked=f"--max-thinking-tokens, config {capping[0]!r}")  # fmt: skip
            overhead = run_with_progress(the_task, backends, configs, results, max_tokens, seed)
    except ThinktimeError as exc:
        raise fail(str(exc)) from None
    points = curve_points(results) if as_json else print_summary(results, overhead)
    html = build_report(
        results,
        path.with_suffix(".html"),
        title=f"{the_task.name} · {len(the_task.problems)} problems",
        points=points,
    )
    if as_json:
        shares = [{"model": m, "config": c, "cpu_overhead": share}
                  for (m, c), share in (overhead or {}).items()]  # fmt: skip
        print_json({**report_json(results, points, html), "store": str(path),
                    "cpu_overhead": shares})  # fmt: skip
    else:
        console.print(f"stored in {path}; report: {html}")


def capped(text: str, cap: int | None) -> str:
    """The config `text` with `--max-thinking-tokens` as one of its items: the cap reaches each
    sample's `SamplingParams` (or a strategy's own thinking cap) as a config item does, and runs
    at different caps are stored as different configs.

    >>> capped("cot", 64), capped("self_consistency:n=4", 64), capped("cot", None)
    ('cot:max_thinking_tokens=64', 'self_consistency:n=4,max_thinking_tokens=64', 'cot')
    """
    from thinktime.bench.configs import split_config

    if cap is None:
        return text
    name, items = split_config(text)
    if "max_thinking_tokens" in items:
        raise ThinktimeError(
            f"max_thinking_tokens given twice (--max-thinking-tokens and config {text!r}); "
            "give it once"
        )
    return f"{text},max_thinking_tokens={cap}" if items else f"{name}:max_thinking_tokens={cap}"


def default_store(task: str) -> str:
    """`runs/NAME.db`, or `runs/NAME-STEM.db` for a task with a file or family after its colon
    (`jsonl:data/qa.jsonl` → `runs/jsonl-qa.db`): two task files never share a store.

    >>> default_store("gsm8k"), default_store("jsonl:~/data/qa.jsonl")
    ('runs/gsm8k.db', 'runs/jsonl-qa.db')
    """
    name, _, rest = task.partition(":")
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(rest).stem) if rest else ""
    return f"runs/{name}-{stem}.db" if stem else f"runs/{name}.db"


def report(
    store: Annotated[str, store_option()],
    out: Annotated[str | None, typer.Option(help="HTML file (default: beside the store).")] = None,
    as_json: AsJson = False,
) -> None:
    """Summarise a results store: table, plots and an HTML report (results, curves and matched
    rows with --json)."""
    from thinktime.bench.report import build_report
    from thinktime.bench.results import curve_points
    from thinktime.bench.store import Store

    path = Path(store)
    try:
        results = Store(path, create=False)
    except ThinktimeError as exc:
        raise fail(str(exc)) from None
    points = curve_points(results) if as_json else print_summary(results)
    html = out or path.with_suffix(".html")
    try:
        written = build_report(results, html, points=points)
    except OSError as exc:
        raise fail(
            f"cannot write the report {html} ({exc.strerror}: {exc.filename}); "
            "pass --out with a file in a writable folder"
        ) from None
    if as_json:
        print_json(report_json(results, points, written))
    else:
        console.print(f"report: {written}")


def print_summary(results: Any, overhead: Mapping[tuple[str, str], float] | None = None) -> Any:
    """Print the results table and, with several models, the matched-FLOPs table; return the
    curve points so the report does not derive them again."""
    from thinktime.bench.matched import matched
    from thinktime.bench.paired import paired
    from thinktime.bench.results import curve_points, summarize
    from thinktime.bench.show import matched_table, paired_table, results_table
    from thinktime.render import show_table

    show_table(console, results_table(summarize(results), overhead))
    comparisons = paired(results)
    if comparisons:  # the configs on the questions they share, each against the first
        show_table(console, paired_table(comparisons))
    points = curve_points(results)
    rows = matched(points)
    if rows:
        show_table(console, matched_table(rows))
    return points


def report_json(results: Any, points: Any, written: Path) -> dict[str, Any]:
    """The store's summaries, curve points and matched-FLOPs rows, and the HTML report's path."""
    from thinktime.bench.matched import matched
    from thinktime.bench.paired import as_dict, paired
    from thinktime.bench.results import summarize

    return {
        "results": [asdict(s) for s in summarize(results)],
        "paired": [as_dict(c) for c in paired(results)],
        "points": [asdict(p) for p in points],
        "matched": [asdict(m) for m in matched(points)],
        "report": str(written),
    }
