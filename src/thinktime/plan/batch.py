"""The decode batch a load needs, by Little's law, and the replicas that serve it.

A server decodes the sequences in flight together, so its batch is what the load keeps in
flight, not the most the KV cache holds: one answer a day runs alone at ≈ 239 tokens/s on an
H100, not in a batch of 256 at less than half that. Little's law says how many are in flight:
arrivals per second × seconds each spends in the system (its latency). For one chip:
1) replicas: the fewest whose largest batch (KV cache and `max_batch`) keeps up with the load
   — busy at most `utilization` of their roofline time — and holds the sequences in flight;
2) throughput: the smallest batch at which those replicas still keep up (a step's seconds per
   sequence never grow with the batch, so bisect);
3) concurrency: the batch must hold the sequences in flight, and what is in flight grows with
   the latency at that batch: raise the batch to ⌈arrivals × latency⌉ until it holds them
   (the fixed point, reached from below in a few steps).

A sequence is a completion of `completion_tokens`: self-consistency with n = 8 decodes 8 of
them per answer at once, `direct` (a tenth of the tokens) holds one slot a tenth as long.
Latency and in-flight counts are at the roofline; `utilization` only leaves headroom.

One answer a day on a 7 B model and an H100 is served at batch 1 (≈ 239 tokens/s):

    >>> from thinktime.plan.hardware import load_hardware
    >>> from thinktime.plan.profile import KNOWN_PROFILES
    >>> one_a_day = Demand(answers=1 / 86_400, prompt_tokens=1000 / 86_400,
    ...     completion_tokens=1000 / 86_400, answer_prompt_tokens=1000, sequence_tokens=1000,
    ...     sequences_per_answer=1.0, utilization=0.5)
    >>> h100, dense_7b = load_hardware()["H100"], KNOWN_PROFILES["dense-7b"]
    >>> s = serve(dense_7b, h100, one_a_day, largest=251, context=1000)
    >>> s.replicas, s.batch, round(s.latency_seconds, 1), f"{s.in_flight:.1e}"
    (1, 1, 4.2, '4.9e-05')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from thinktime.plan.hardware import Hardware
from thinktime.plan.profile import ModelProfile
from thinktime.plan.roofline import Step, decode, prefill_seconds


@dataclass(frozen=True)
class Demand:
    """What a workload asks of all replicas together each second, and one answer's shape."""

    answers: float  # answers arriving per second
    prompt_tokens: float  # prompt tokens to prefill per second
    completion_tokens: float  # completion tokens to decode per second
    answer_prompt_tokens: int  # prompt tokens of one answer (its prefill, once)
    sequence_tokens: int  # completion tokens of one sequence
    sequences_per_answer: float  # completion tokens per answer / sequence_tokens
    utilization: float  # the largest share of a replica's roofline time the plan fills


@dataclass(frozen=True)
class Serving:
    """How one chip serves the demand: replicas, their batch, and what the batch gives."""

    replicas: int
    batch: int
    largest_batch: int  # the most sequences that fit the KV cache (and max_batch)
    step: Step  # one decode step at `batch`
    latency_seconds: float  # one answer: its prefill + its completion at `batch`
    in_flight: float  # sequences per replica: arrivals per second × latency (Little's law)
    utilization: float  # share of each replica's roofline time busy (≤ demand.utilization)
    decode_seconds: float  # replica-seconds of decode per second, all replicas
    prefill_seconds: float  # replica-seconds of prefill per second, all replicas


def serve(
    model: ModelProfile, replica: Hardware, demand: Demand, largest: int, context: int
) -> Serving:
    """The fewest replicas, then the smallest batch, that keep up with `demand` and hold what
    is in flight; `context` is a sequence's average KV cache in tokens."""
    prefill = prefill_seconds(model, replica, demand.prompt_tokens)
    answer_prefill = prefill_seconds(model, replica, demand.answer_prompt_tokens)

    def step(batch: int) -> Step:
        return decode(model, replica, batch, context)

    def busy(batch: int, replicas: int) -> float:  # share of each replica's time
        return (demand.completion_tokens / step(batch).tokens_per_second + prefill) / replicas

    def latency(batch: int) -> float:
        return answer_prefill + demand.sequence_tokens * step(batch).seconds

    def in_flight(batch: int, replicas: int) -> float:
        arrivals = demand.answers * demand.sequences_per_answer / replicas
        return arrivals * latency(batch)

    # 1) replicas: the largest batch must keep up with the load and hold what is in flight
    replicas = max(
        1,
        math.ceil(busy(largest, 1) / demand.utilization),
        math.ceil(in_flight(largest, 1) / largest),
    )
    # 2) the smallest batch whose throughput covers the load on those replicas
    low, high = 1, largest
    while low < high:
        middle = (low + high) // 2
        if busy(middle, replicas) <= demand.utilization:
            high = middle
        else:
            low = middle + 1
    batch = low
    # 3) Little's law: grow the batch until it holds the sequences in flight at its latency
    while batch < largest and in_flight(batch, replicas) > batch:
        batch = min(largest, math.ceil(in_flight(batch, replicas)))
    return Serving(
        replicas=replicas,
        batch=batch,
        largest_batch=largest,
        step=step(batch),
        latency_seconds=latency(batch),
        in_flight=in_flight(batch, replicas),
        utilization=busy(batch, replicas),
        decode_seconds=demand.completion_tokens / step(batch).tokens_per_second,
        prefill_seconds=prefill,
    )
