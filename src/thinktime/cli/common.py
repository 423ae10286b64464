"""What every `thinktime` command shares: its options' one vocabulary, the consoles, the error
exit, a sweep with progress.

The options several commands take are declared here once, so each is spelled, shortened and
explained the same everywhere (tests/cli/test_vocabulary.py holds every command to it):
`--store PATH` (a results store), `-m/--model`, `-s/--strategy NAME[:PARAM=VALUE,…]`, `--json`
(a flag), `--max-tokens` (one default) and `--max-thinking-tokens` (no cap by default).

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
from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from typer.core import TyperCommand, TyperGroup

from thinktime.errors import ThinktimeError
from thinktime.sampling import SamplingParams

if TYPE_CHECKING:
    from thinktime.bench.configs import Config

console = Console()
errors = Console(stderr=True)

DEFAULT_MAX_TOKENS: int = SamplingParams.model_fields["max_tokens"].default  # the library's: 1024

# each shared option's help; a command may add a sentence after it (its default, a role)
STORE_HELP = "Results store (SQLite) written by `thinktime bench`."
MODEL_HELP = "Model: a short name (`thinktime models`), a .gguf path, hf:REPO or openai:NAME."
STRATEGY_HELP = (
    "Strategy NAME[:PARAM=VALUE,…] (`thinktime strategies`); each VALUE is JSON, else text."
)
JSON_HELP = "Print the result as JSON on stdout (progress and notes go to stderr)."
MAX_TOKENS_HELP = "Most tokens per sample."
MAX_THINKING_TOKENS_HELP = (
    "Most tokens a reasoning model may think per sample (the engine ends its thinking there; "
    "refused where it cannot). Default: no cap."
)


def _with(base: str, more: str) -> str:
    return f"{base} {more}" if more else base


def store_option(more: str = "") -> Any:
    """`--store PATH`, on every command that reads or writes a results store."""
    return typer.Option("--store", help=_with(STORE_HELP, more))


def model_option(more: str = "") -> Any:
    """`-m/--model NAME`."""
    return typer.Option("--model", "-m", help=_with(MODEL_HELP, more))


def strategy_option(more: str = "") -> Any:
    """`-s/--strategy NAME[:PARAM=VALUE,…]`."""
    return typer.Option("--strategy", "-s", help=_with(STRATEGY_HELP, more))


AsJson = Annotated[bool, typer.Option("--json", help=JSON_HELP)]
MaxTokens = Annotated[int, typer.Option("--max-tokens", help=MAX_TOKENS_HELP)]
MaxThinkingTokens = Annotated[
    int | None, typer.Option("--max-thinking-tokens", help=MAX_THINKING_TOKENS_HELP)
]
# read here, at the edge, and passed down as a value (no module keeps it)
UnsafeExec = Annotated[
    bool,
    typer.Option(
        envvar="THINKTIME_UNSAFE_EXEC",
        help="Run model code with process limits alone where namespaces are missing.",
    ),
]


def _blank_flags(params: list[Any]) -> list[Any]:
    """typer's rich help writes a flag's type after it (`--json <bool>`, `--help <bool>`), as if
    it took a value; a flag (one that takes none) gets a blank metavar instead."""
    for param in params:
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""
    return params


class Command(TyperCommand):
    """A `thinktime` command: its flags shown without a value in `--help`."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _blank_flags(super().get_params(ctx))


class Group(TyperGroup):
    """A `thinktime` command group: its flags shown without a value in `--help`."""

    def get_params(self, ctx: Any) -> list[Any]:
        return _blank_flags(super().get_params(ctx))


def only_model(results: Any) -> str:
    """The one model a store holds results of; `ThinktimeError` listing them if several."""
    models = [row["model"] for row in results.query("SELECT DISTINCT model FROM results")]
    if len(models) != 1:
        held = ", ".join(sorted(models)) or "none"
        raise ThinktimeError(
            f"the store holds results of {len(models)} models ({held}); pass -m/--model"
        )
    return str(models[0])


def listen_url(host: str, port: int) -> str:
    """The URL a server bound to host:port answers at (an IPv6 address in brackets).

    >>> listen_url("127.0.0.1", 8000), listen_url("::1", 8765)
    ('http://127.0.0.1:8000', 'http://[::1]:8765')
    """
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def print_json(data: Any) -> None:
    """`data` as indented JSON on stdout (for `--json`: nothing else goes there)."""
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def fail(message: str) -> typer.Exit:
    """Print `error: message` on stderr and return the exit (code 2) to raise. The message is
    plain text: brackets in it (`pip install 'thinktime[qwen15]'`) are printed, not read as
    markup."""
    errors.print(f"[bold red]error:[/bold red] {escape(message)}", highlight=False, soft_wrap=True)
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
    task: Any,
    backends: Any,
    configs: Sequence[Config],
    store: Any,
    max_tokens: int,
    seed: int | None,
) -> dict[tuple[str, str], float]:
    """`run_sweep` with a rich progress bar per (model, config); `configs` are the `Config`s
    the command parsed (every one checked before any compute is spent), passed down as they are.

    Each (model, config) sweep runs under a `CpuMeter`; returns its orchestration share of the
    CPU time, (model, config text) → share, for sweeps that used at least a CPU-second."""
    from thinktime.bench.overhead import CpuMeter
    from thinktime.bench.runner import run_sweep

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
                    shares[(model, config.text)] = meter.orchestration_share
                cpu_total, cpu_engine = cpu_total + meter.total, cpu_engine + meter.engine
    if cpu_total > 1.0:
        errors.print(
            f"orchestration overhead: {max(0.0, 1 - cpu_engine / cpu_total):.1%} of the run's "
            f"CPU time ({cpu_total - cpu_engine:.1f} s outside the engine's threads, "
            f"{cpu_engine:.1f} s inside)"
        )
    return shares


def run_on_ray(
    task: Any, models: list[str], configs: Sequence[Config], store: Any, **options: Any
) -> Any:
    """`run_ray_sweep` with the same progress bars; returns the driver's `RaySweepStats`."""
    from thinktime.bench.ray_sweep import RaySweepStats, run_ray_sweep

    stats = RaySweepStats()
    progress, report = sweep_progress()
    with progress:
        run_ray_sweep(task, models, configs, store, progress=report, stats=stats, **options)
    return stats
