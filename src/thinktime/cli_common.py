"""What every `thinktime` command shares: the consoles, the error exit, a sweep with progress.

>>> fail("no such model").exit_code
2
>>> at_least("--limit", 0, 1)
Traceback (most recent call last):
thinktime.errors.ThinktimeError: --limit must be at least 1, got 0
"""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console

from thinktime.errors import ThinktimeError

console = Console()
errors = Console(stderr=True)


def fail(message: str) -> typer.Exit:
    """Print `error: message` on stderr and return the exit (code 2) to raise."""
    errors.print(f"[bold red]error:[/bold red] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code=2)


def at_least(option: str, value: object, low: int) -> None:
    """Refuse an integer option below `low` (None and non-integers are left to other checks)."""
    if isinstance(value, int) and value < low:
        raise ThinktimeError(f"{option} must be at least {low}, got {value}")


def run_with_progress(
    task: Any, backends: Any, configs: list[str], store: Any, max_tokens: int, seed: int | None
) -> None:
    """`run_sweep` with a rich progress bar per (model, config): done/total, ETA, tokens/s."""
    import time

    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    from thinktime.bench.overhead import CpuMeter
    from thinktime.bench.runner import run_sweep

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[rate]}"),
    )
    with Progress(*columns, console=errors) as progress:
        bars: dict[str, Any] = {}

        def report(label: str, done: int, total: int, tokens: int) -> None:
            if label not in bars:
                bars[label] = (progress.add_task(label, total=total, rate=""), time.monotonic())
            bar, started = bars[label]
            rate = f"{tokens / max(time.monotonic() - started, 1e-9):.0f} tok/s" if tokens else ""
            progress.update(bar, completed=done, rate=rate)

        with CpuMeter() as meter:
            run_sweep(
                task, backends, configs, store, max_tokens=max_tokens, seed=seed, progress=report
            )
    if meter.total > 1.0:
        errors.print(
            f"orchestration overhead: {meter.orchestration_share:.1%} of the run's CPU time "
            f"({meter.total - meter.engine:.1f} s outside the engine's threads, "
            f"{meter.engine:.1f} s inside)"
        )
