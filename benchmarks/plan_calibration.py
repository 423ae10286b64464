"""Does the planner's roofline predict this CPU? Calibrate on one model, predict both, measure both.

In one run: decode tokens/s of the embedded Qwen 0.5B and of Qwen 1.5B at batch 1 and 8
(fixed-length samples), the `cpu` profile fitted from one model (`thinktime plan calibrate`'s
method), and the roofline's predictions for all four cases with their errors. Target: within 30%.

    python benchmarks/plan_calibration.py --fit qwen2.5-coder-0.5b
"""

from __future__ import annotations

import argparse

from rich.console import Console
from rich.table import Table

from thinktime.backends.llamacpp import LlamaCppBackend
from thinktime.models.card import read_card
from thinktime.models.resolve import resolve_model
from thinktime.plan.calibrate import decode_rate, fit_cpu
from thinktime.plan.profile import ModelProfile
from thinktime.plan.roofline import decode

MODELS = ("qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", default=MODELS[0], choices=MODELS)
    parser.add_argument("--tokens", type=int, default=64)
    args = parser.parse_args()
    measured: dict[tuple[str, int], float] = {}
    profiles = {}
    for name in MODELS:
        path = resolve_model(name)
        profiles[name] = ModelProfile.from_card(
            read_card(path), name, file_bytes=path.stat().st_size
        )
        backend = LlamaCppBackend(path, name, n_parallel=8)
        for batch in (1, 8):
            measured[(name, batch)] = decode_rate(backend, batch, args.tokens)
        del backend
    cpu = fit_cpu(profiles[args.fit], measured[(args.fit, 1)], measured[(args.fit, 8)])
    table = Table(title=f"roofline vs measured decode, cpu fitted on {args.fit}")
    for column in ("model", "batch", "measured tok/s", "predicted tok/s", "error", "bound"):
        table.add_column(column, justify="right")
    for (name, batch), rate in measured.items():
        step = decode(profiles[name], cpu, batch, context=args.tokens // 2)
        error = step.tokens_per_second / rate - 1
        table.add_row(
            name,
            str(batch),
            f"{rate:.1f}",
            f"{step.tokens_per_second:.1f}",
            f"{error:+.0%}",
            step.bound,
        )
    console = Console(width=110)
    console.print(table)
    console.print(
        f"fitted cpu: bandwidth {cpu.memory_bandwidth / 1e9:.1f} GB/s, "
        f"compute {cpu.bf16_flops / 1e9:.1f} GFLOP/s"
    )


if __name__ == "__main__":
    main()
