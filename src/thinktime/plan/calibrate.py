"""Measure this machine with the embedded engine and fit the `cpu` hardware profile.

1) decode at batch 1 and batch 8 on a model (fixed-length samples, a tiny prompt);
2) batch 1 is taken as bandwidth-bound: bandwidth = bytes read per step / step time;
3) batch 8 as compute-bound: FLOP/s = 2 · active params · 8 / step time;
4) the fitted profile is written where `load_hardware` finds it (entry `cpu`).

    thinktime plan calibrate
"""

from __future__ import annotations

import time
from pathlib import Path

from thinktime.backends.llamacpp import LlamaCppBackend
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


def fit_cpu(model: ModelProfile, rate_1: float, rate_8: float, watts: float = 65.0) -> Hardware:
    step_1, step_8 = 1 / rate_1, 8 / rate_8
    bandwidth = model.active_weight_bytes / step_1
    flops = 2 * model.active_params * 8 / step_8
    return Hardware("cpu", flops, flops, bandwidth, 24e9, 0.10, watts)


def write_calibration(hardware: Hardware, path: Path | None = None) -> Path:
    path = path or calibrated_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "# measured by `thinktime plan calibrate`\n[cpu]\n"
        f"bf16_flops = {hardware.bf16_flops:.4g}\nfp8_flops = {hardware.fp8_flops:.4g}\n"
        f"memory_bandwidth = {hardware.memory_bandwidth:.4g}\n"
        f"memory_bytes = {hardware.memory_bytes:.4g}\n"
        f"usd_per_hour = {hardware.usd_per_hour}\nwatts = {hardware.watts}\n"
    )
    return path
