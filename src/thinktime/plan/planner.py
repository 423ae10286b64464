"""Turn a workload into a plan per chip: tokens, FLOPs, devices, dollars, energy, latency, and
how it compares with a training run (6 · N · D FLOPs).

For each hardware type:
1) a replica is the fewest devices whose memory holds the weights (ideal tensor parallelism:
   bandwidth, FLOP/s and memory add up);
2) the largest decode batch is what fits the KV cache (capped by `max_batch`);
3) replicas are the fewest that keep up at that batch: a day's decode steps and prefill take
   replica-seconds from the roofline, filling at most `utilization` of each replica's day;
4) the batch served is the smallest that keeps up on those replicas and holds the sequences
   in flight (Little's law: arrivals × latency; `batch.py`) — one answer a day runs at batch 1.

    >>> from thinktime.plan.workload import Workload
    >>> w = Workload(requests_per_day=1e6, model="dense-7b", hardware=["H100"])
    >>> row = make_plan(w).rows[0]
    >>> row.hardware, row.devices, row.batch, row.in_flight <= row.batch
    ('H100', 1, 93, True)
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from thinktime.errors import ThinktimeError
from thinktime.plan.batch import Demand, serve
from thinktime.plan.hardware import Hardware, load_hardware
from thinktime.plan.profile import KNOWN_PROFILES, ModelProfile
from thinktime.plan.roofline import devices_to_hold, max_batch
from thinktime.plan.workload import Workload

DAY = 86_400.0


@dataclass(frozen=True)
class Row:
    hardware: str
    devices: int
    devices_per_replica: int
    replicas: int
    batch: int  # the decode batch the load needs (Little's law), ≤ largest_batch
    largest_batch: int  # the most sequences that fit the KV cache (and max_batch)
    in_flight: float  # sequences per replica: arrivals per second × latency
    utilization: float  # share of each replica's roofline time busy (≤ workload.utilization)
    decode_tokens_per_second: float  # per replica, aggregate over its batch
    bound: str
    compute_share: float  # share of busy time that is compute-bound
    usd_per_day: float
    kwh_per_day: float
    latency_seconds: float  # one answer: prefill + its completion at the serving batch


@dataclass(frozen=True)
class Plan:
    workload: Workload
    model: ModelProfile
    prompt_tokens_per_day: float
    completion_tokens_per_day: float
    flops_per_day: float
    training_flops: float | None
    rows: list[Row]

    @property
    def days_to_match_training(self) -> float | None:
        return None if self.training_flops is None else self.training_flops / self.flops_per_day


def resolve_profile(model: str) -> ModelProfile:
    """A known profile name, a .gguf file (or known GGUF short name), or a HF config.json."""
    if model in KNOWN_PROFILES:
        return KNOWN_PROFILES[model]
    if model.endswith(".json"):
        return ModelProfile.from_hf_config(model)
    from thinktime.models.card import read_card
    from thinktime.models.resolve import resolve_model

    try:
        path = resolve_model(model)
    except ThinktimeError:
        known = ", ".join([*KNOWN_PROFILES, "a .gguf path", "a HF config.json"])
        raise ThinktimeError(f"unknown model {model!r} for planning; use one of: {known}") from None
    return ModelProfile.from_card(read_card(path), model, file_bytes=path.stat().st_size)


def scaled(hardware: Hardware, devices: int) -> Hardware:
    return replace(
        hardware,
        bf16_flops=hardware.bf16_flops * devices,
        fp8_flops=hardware.fp8_flops * devices,
        memory_bandwidth=hardware.memory_bandwidth * devices,
        memory_bytes=hardware.memory_bytes * devices,
    )


def make_plan(workload: Workload, model: ModelProfile | None = None) -> Plan:
    model = model or resolve_profile(workload.model)
    table = load_hardware()
    unknown = [h for h in workload.hardware if h not in table]
    if unknown:
        raise ThinktimeError(f"unknown hardware {unknown}; known: {', '.join(table)}")
    prompt_mult, completion_mult = workload.multipliers()
    prompt_day = workload.requests * workload.prompt_tokens * prompt_mult
    completion_day = workload.requests * workload.completion_tokens * completion_mult
    flops_day = 2 * model.active_params * (prompt_day + completion_day)
    context = workload.prompt_tokens + workload.completion_tokens
    demand = Demand(
        answers=workload.requests / DAY,
        prompt_tokens=prompt_day / DAY,
        completion_tokens=completion_day / DAY,
        answer_prompt_tokens=workload.prompt_tokens,
        sequence_tokens=workload.completion_tokens,
        sequences_per_answer=completion_mult,
        utilization=workload.utilization,
    )
    rows = []
    for name in workload.hardware:
        per_replica = devices_to_hold(model, table[name])
        replica = scaled(table[name], per_replica)
        largest = max(1, min(workload.max_batch, max_batch(model, replica, context)))
        # the average sequence is half-way through its prompt and completion
        s = serve(model, replica, demand, largest, context // 2)
        devices = per_replica * s.replicas
        compute = s.prefill_seconds + (s.decode_seconds if s.step.bound == "compute" else 0.0)
        rows.append(
            Row(
                hardware=name,
                devices=devices,
                devices_per_replica=per_replica,
                replicas=s.replicas,
                batch=s.batch,
                largest_batch=largest,
                in_flight=s.in_flight,
                utilization=s.utilization,
                decode_tokens_per_second=s.step.tokens_per_second,
                bound=s.step.bound,
                compute_share=compute / (s.decode_seconds + s.prefill_seconds),
                usd_per_day=devices * 24 * table[name].usd_per_hour,
                kwh_per_day=devices * 24 * table[name].watts / 1000,
                latency_seconds=s.latency_seconds,
            )
        )
    training = None
    if workload.training_tokens:
        training = 6 * model.active_params * workload.training_tokens
    return Plan(workload, model, prompt_day, completion_day, flops_day, training, rows)


def write_plot(plan: Plan, path: str | Path) -> str:
    """Bar chart of devices and $/day per chip."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(9, 3.5), dpi=120)
    names = [r.hardware for r in plan.rows]
    left.bar(names, [r.devices for r in plan.rows])
    left.set_title("devices needed")
    right.bar(names, [r.usd_per_day for r in plan.rows], color="tab:orange")
    right.set_title("$ per day")
    figure.suptitle(plan.workload.name)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return str(path)
