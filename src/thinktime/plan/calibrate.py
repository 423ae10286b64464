"""Measure this machine with the embedded engine and fit the `cpu` hardware profile.

1) decode at batch 1 on every embedded model installed (fixed-length samples, a tiny prompt),
   and at batch 8 on the default model;
2) batch 1 is bandwidth-bound: step time = overhead + weight bytes / bandwidth. With two or more
   models of different sizes a least-squares line through (bytes, step time) gives both the
   bandwidth (1 / slope) and a fixed per-step overhead (intercept); with one, overhead is 0;
3) batch 8 is compute-bound: FLOP/s = 2 · active params · 8 / (step time − overhead);
4) the fitted profile is written where `load_hardware` finds it (entry `cpu`).

    thinktime plan calibrate

    >>> from thinktime.plan.profile import ModelProfile
    >>> small = ModelProfile("s", 1e8, 1e8, 12, 2, 64, bytes_per_weight=1.0)
    >>> big = ModelProfile("b", 1e9, 1e9, 24, 2, 64, bytes_per_weight=1.0)
    >>> cpu = fit_cpu([(small, 1 / 0.006), (big, 1 / 0.042)], big, rate_8=8 / 0.1)
    >>> round(cpu.memory_bandwidth / 1e9, 1), round(cpu.step_overhead * 1e3, 1)
    (25.0, 2.0)
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from pathlib import Path

from thinktime.backends.llamacpp import LlamaCppBackend
from thinktime.errors import ThinktimeError
from thinktime.plan.hardware import Hardware, calibrated_path
from thinktime.plan.profile import ModelProfile
from thinktime.sampling import SamplingParams
from thinktime.types import Request


def decode_rate(backend: LlamaCppBackend, batch: int, tokens: int = 64) -> float:
    """Aggregate decode tokens/s of `batch` parallel sequences (prefill of 1 token excluded)."""
    params = SamplingParams(max_tokens=tokens, ignore_eos=True, temperature=0.7, seed=1)
    request = Request(prompt="Once", n=batch)
    backend.generate([Request(prompt="Once", n=1)], params.with_(max_tokens=4))  # warm-up
    started = time.perf_counter()
    backend.generate([request], params)
    seconds = time.perf_counter() - started
    return batch * tokens / seconds


def fit_cpu(
    batch_1: Sequence[tuple[ModelProfile, float]],
    model: ModelProfile,
    rate_8: float,
    watts: float = 65.0,
) -> Hardware:
    """Fit bandwidth + overhead to (model, batch-1 tok/s) points and FLOP/s to `model` at 8."""
    if not batch_1:
        raise ThinktimeError("calibration needs at least one batch-1 measurement")
    points = [(m.active_weight_bytes, 1 / rate) for m, rate in batch_1]
    if len({x for x, _ in points}) >= 2:
        # least squares: step = overhead + bytes · (1 / bandwidth)
        mean_x = statistics.fmean(x for x, _ in points)
        mean_y = statistics.fmean(y for _, y in points)
        slope = sum((x - mean_x) * (y - mean_y) for x, y in points) / sum(
            (x - mean_x) ** 2 for x, _ in points
        )
        if slope <= 0:
            raise ThinktimeError("bigger models decoded faster than smaller ones; measure again")
        overhead = mean_y - slope * mean_x
        if overhead < 0:  # no room for an overhead: a line through the origin instead
            overhead, slope = 0.0, sum(x * y for x, y in points) / sum(x * x for x, _ in points)
        bandwidth = 1 / slope
    else:
        overhead, bandwidth = 0.0, points[0][0] / points[0][1]
    compute_time = max(8 / rate_8 - overhead, 1e-9)
    flops = 2 * model.active_params * 8 / compute_time
    return Hardware("cpu", flops, flops, bandwidth, 24e9, 0.10, watts, overhead)


def write_calibration(hardware: Hardware, path: Path | None = None) -> Path:
    path = path or calibrated_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# measured by `thinktime plan calibrate`\n[cpu]\n"
        f"bf16_flops = {hardware.bf16_flops:.4g}\nfp8_flops = {hardware.fp8_flops:.4g}\n"
        f"memory_bandwidth = {hardware.memory_bandwidth:.4g}\n"
        f"memory_bytes = {hardware.memory_bytes:.4g}\n"
        f"usd_per_hour = {hardware.usd_per_hour}\nwatts = {hardware.watts}\n"
        f"step_overhead = {hardware.step_overhead:.4g}\n"
    )
    return path
