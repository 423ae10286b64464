"""A roofline model of LLM serving on one device.

Decode produces one token per sequence per step. A step at batch size B must
- read the active weights once (shared by the batch; for a mixture of experts, every expert
  some token of the batch routes to) plus each sequence's KV cache, and
- compute ≈ 2 · active_params FLOPs per sequence (+ attention, small at these contexts);
so it takes max(bytes / bandwidth, FLOPs / peak) plus the device's fixed per-step overhead
(measured on CPUs by `thinktime plan calibrate`): bandwidth-bound at small B, compute-bound once
B passes the device's ridge point. Prefill is one big batch of prompt tokens: compute-bound.
KV-cache memory left after the weights caps how many sequences fit at once.

Worked check (a 7 B model in bf16 on one H100, batch 1): 14 GB of weights / 3.35 TB/s
≈ 4.2 ms per step ≈ 240 tokens/s.

    >>> from thinktime.plan.hardware import load_hardware
    >>> from thinktime.plan.profile import KNOWN_PROFILES
    >>> r = decode(KNOWN_PROFILES["dense-7b"], load_hardware()["H100"], batch=1, context=0)
    >>> round(r.tokens_per_second_per_sequence)
    239
"""

from __future__ import annotations

from dataclasses import dataclass

from thinktime.plan.hardware import Hardware
from thinktime.plan.profile import ModelProfile


@dataclass(frozen=True)
class Step:
    batch: int
    seconds: float
    bound: str  # "bandwidth" or "compute"

    @property
    def tokens_per_second(self) -> float:
        """Aggregate decode throughput of the batch."""
        return self.batch / self.seconds

    @property
    def tokens_per_second_per_sequence(self) -> float:
        return 1.0 / self.seconds


def peak_flops(model: ModelProfile, hardware: Hardware) -> float:
    """8-bit (or smaller) weights run at the fp8 rate, else bf16."""
    return hardware.fp8_flops if model.bytes_per_weight <= 1.0 else hardware.bf16_flops


def decode(model: ModelProfile, hardware: Hardware, batch: int, context: int) -> Step:
    """One decode step for `batch` sequences each holding `context` tokens of KV cache."""
    memory = model.bytes_read_per_step(batch) + batch * context * model.kv_bytes_per_token
    compute = 2 * model.active_params * batch
    memory_time = memory / hardware.memory_bandwidth
    compute_time = compute / peak_flops(model, hardware)
    overhead = hardware.step_overhead
    if memory_time >= compute_time:
        return Step(batch, memory_time + overhead, "bandwidth")
    return Step(batch, compute_time + overhead, "compute")


def prefill_seconds(model: ModelProfile, hardware: Hardware, tokens: float) -> float:
    """Prompt processing: compute-bound, 2 · active_params FLOPs per token."""
    return 2 * model.active_params * tokens / peak_flops(model, hardware)


def max_batch(model: ModelProfile, hardware: Hardware, context: int) -> int:
    """Sequences of `context` tokens whose KV cache fits beside the weights (0: none fits)."""
    free = hardware.memory_bytes - model.weight_bytes
    if free <= 0:
        return 0
    return int(free // max(1, context * model.kv_bytes_per_token))


def devices_to_hold(model: ModelProfile, hardware: Hardware) -> int:
    """Devices whose memory together holds the weights with 10 % left for KV cache."""
    per_device = hardware.memory_bytes * 0.9
    return max(1, -(-int(model.weight_bytes) // int(per_device)))
