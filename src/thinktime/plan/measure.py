"""`thinktime plan calibrate`: measure this machine's decode with every embedded model installed
and write the fitted `cpu` hardware profile (the arithmetic is `plan.calibrate`).

Prints one line per model measured and the fitted profile; status spinners go to `status`:

    $ thinktime plan calibrate
    qwen2.5-coder-0.5b: 41.3 tok/s at batch 1
    qwen2.5-coder-0.5b: 112.0 tok/s at batch 8 → cpu profile: 24.1 GB/s, 310.2 GFLOP/s, …
"""

from __future__ import annotations

from rich.console import Console

from thinktime.errors import ThinktimeError
from thinktime.models.known import DEFAULT_MODEL


def calibrate(console: Console, status: Console) -> None:
    """Measure, fit and write the `cpu` profile; `ThinktimeError` if the default model is not
    installed."""
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
        with status.status(f"measuring decode on {name}…"):
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
