"""What every `thinktime` command shares: the consoles, the error exit, a sweep with progress.

>>> fail("no such model").exit_code
2
>>> at_least("--limit", 0, 1)
Traceback (most recent call last):
thinktime.errors.ThinktimeError: --limit must be at least 1, got 0
>>> within("--port", 70000, 1, 65535)
Traceback (most recent call last):
thinktime.errors.ThinktimeError: --port must be 1 to 65535, got 70000
>>> above_zero("--timeout", float("nan"))
Traceback (most recent call last):
thinktime.errors.ThinktimeError: --timeout must be a finite number above 0, got nan
"""

from __future__ import annotations

import json
import math
import sys
from typing import Any

import typer
from rich.console import Console

from thinktime.errors import ThinktimeError

console = Console()
errors = Console(stderr=True)


def print_json(data: Any) -> None:
    """`data` as indented JSON on stdout (for `--json`: nothing else goes there)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def fail(message: str) -> typer.Exit:
    """Print `error: message` on stderr and return the exit (code 2) to raise."""
    errors.print(f"[bold red]error:[/bold red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def at_least(option: str, value: object, low: int) -> None:
    """Refuse an integer option below `low` (None and non-integers are left to other checks)."""
    if isinstance(value, int) and value < low:
        raise ThinktimeError(f"{option} must be at least {low}, got {value}")


def within(option: str, value: int | None, low: int, high: int) -> None:
    """Refuse an integer option outside `low`..`high` (None is left alone)."""
    if value is not None and not low <= value <= high:
        raise ThinktimeError(f"{option} must be {low} to {high}, got {value}")


def above_zero(option: str, value: float | None) -> None:
    """Refuse a number option that is not finite and above 0 (None is left alone)."""
    if value is not None and not (math.isfinite(value) and value > 0):
        raise ThinktimeError(f"{option} must be a finite number above 0, got {value}")


SEED_MAX = 2**32 - 1  # the engines' seeds are 32-bit unsigned, as the server takes them


def sweep_progress() -> Any:
    """A rich progress display and the `Progress` callback that draws a bar per (model, config):
    done/total, ETA, tokens/s."""
    import time

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[rate]}"),
    )
    progress = Progress(*columns, console=errors)
    bars: dict[str, Any] = {}

    def report(label: str, done: int, total: int, tokens: int) -> None:
        if label not in bars:
            bars[label] = (progress.add_task(label, total=total, rate=""), time.monotonic())
        bar, started = bars[label]
        rate = f"{tokens / max(time.monotonic() - started, 1e-9):.0f} tok/s" if tokens else ""
        progress.update(bar, completed=done, rate=rate)

    return progress, report


def run_with_progress(
    task: Any, backends: Any, configs: list[str], store: Any, max_tokens: int, seed: int | None
) -> dict[tuple[str, str], float]:
    """`run_sweep` with a rich progress bar per (model, config).

    Each (model, config) sweep runs under a `CpuMeter`; returns its orchestration share of the
    CPU time, (model, config) → share, for sweeps that used at least a CPU-second."""
    from thinktime.bench.configs import parse_config
    from thinktime.bench.overhead import CpuMeter
    from thinktime.bench.runner import run_sweep

    for config in configs:
        parse_config(config)  # every config is checked before any compute is spent
    shares: dict[tuple[str, str], float] = {}
    cpu_total = cpu_engine = 0.0
    progress, report = sweep_progress()
    with progress:
        for model, backend in backends.items():
            for config in configs:
                with CpuMeter() as meter:
                    run_sweep(
                        task, {model: backend}, [config], store, max_tokens=max_tokens,
                        seed=seed, progress=report,
                    )  # fmt: skip
                if meter.total > 1.0:
                    shares[(model, config)] = meter.orchestration_share
                cpu_total, cpu_engine = cpu_total + meter.total, cpu_engine + meter.engine
    if cpu_total > 1.0:
        errors.print(
            f"orchestration overhead: {max(0.0, 1 - cpu_engine / cpu_total):.1%} of the run's "
            f"CPU time ({cpu_total - cpu_engine:.1f} s outside the engine's threads, "
            f"{cpu_engine:.1f} s inside)"
        )
    return shares


def run_on_ray(task: Any, models: list[str], configs: list[str], store: Any, **options: Any) -> Any:
    """`run_ray_sweep` with the same progress bars; returns the driver's `RaySweepStats`."""
    from thinktime.bench.ray_sweep import RaySweepStats, run_ray_sweep

    stats = RaySweepStats()
    progress, report = sweep_progress()
    with progress:
        run_ray_sweep(task, models, configs, store, progress=report, stats=stats, **options)
    return stats
