"""Does the planner's roofline predict this CPU? Fit on two models, predict a held-out third.

In one run: decode tokens/s of SmolLM2-135M, Qwen 0.5B and Qwen 1.5B at batch 1 and 8
(fixed-length samples); the `cpu` profile fitted the way `thinktime plan calibrate` does it, but
from the `--fit` models only (bandwidth + fixed per-step overhead from their batch-1 points,
FLOP/s from the last one at batch 8); and the roofline's prediction for every case with its
error. Two fits are shown: on all three models (what `thinktime plan calibrate` does with every
installed embedded model) and on `--fit` only, with the held-out model (Qwen 1.5B by default)
as an out-of-sample test. Target: within 30%.

    python benchmarks/plan_calibration.py --fit smollm2-135m --fit qwen2.5-coder-0.5b
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

MODELS = ("smollm2-135m", "qwen2.5-coder-0.5b", "qwen2.5-coder-1.5b")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="append", choices=MODELS)
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
    console = Console(width=110)
    # 1) what `thinktime plan calibrate` does: every installed embedded model, FLOP/s from 0.5B
    # 2) the held-out test: fit on --fit models only, predict the others
    for fit in (list(MODELS), args.fit or list(MODELS[:2])):
        points = [(profiles[name], measured[(name, 1)]) for name in fit]
        cpu = fit_cpu(points, profiles[MODELS[1]], measured[(MODELS[1], 8)])
        table = Table(title=f"roofline vs measured decode, cpu fitted on {' + '.join(fit)}")
        for column in ("model", "role", "batch", "measured", "predicted", "error", "bound"):
            table.add_column(column, justify="right")
        for (name, batch), rate in measured.items():
            step = decode(profiles[name], cpu, batch, context=args.tokens // 2)
            error = step.tokens_per_second / rate - 1
            table.add_row(
                name,
                "fit" if name in fit else "held out",
                str(batch),
                f"{rate:.1f}",
                f"{step.tokens_per_second:.1f}",
                f"{error:+.0%}",
                step.bound,
            )
        console.print(table)
        console.print(
            f"fitted cpu: bandwidth {cpu.memory_bandwidth / 1e9:.1f} GB/s, "
            f"compute {cpu.bf16_flops / 1e9:.1f} GFLOP/s, "
            f"overhead {cpu.step_overhead * 1e3:.2f} ms/step\n"
        )


if __name__ == "__main__":
    main()
