"""Planner: roofline arithmetic against hand-computed cases, MoE, the batch a load needs
(Little's law), workloads and their errors."""

import math

import pytest

from thinktime.errors import ThinktimeError
from thinktime.plan.calibrate import fit_cpu
from thinktime.plan.hardware import load_hardware
from thinktime.plan.planner import DAY, make_plan
from thinktime.plan.profile import KNOWN_PROFILES, ModelProfile
from thinktime.plan.roofline import decode, devices_to_hold, max_batch, prefill_seconds
from thinktime.plan.show import plan_table
from thinktime.plan.workload import Workload, load_workload

HW = load_hardware()
DENSE_7B = KNOWN_PROFILES["dense-7b"]


def test_7b_bf16_on_h100_decodes_about_240_tokens_per_second():
    step = decode(DENSE_7B, HW["H100"], batch=1, context=0)
    assert step.bound == "bandwidth"
    assert step.seconds == pytest.approx(14e9 / 3.35e12)
    assert step.tokens_per_second == pytest.approx(239.3, abs=0.1)


def test_large_batches_become_compute_bound_at_the_ridge():
    # ridge without KV: 2·7e9·B / 989e12 = 14e9 / 3.35e12  →  B ≈ 295
    assert decode(DENSE_7B, HW["H100"], batch=290, context=0).bound == "bandwidth"
    step = decode(DENSE_7B, HW["H100"], batch=300, context=0)
    assert step.bound == "compute"
    assert step.seconds == pytest.approx(2 * 7e9 * 300 / 989e12)


def test_kv_cache_adds_bandwidth_and_caps_the_batch():
    kv = 2 * 32 * 8 * 128 * 2  # bytes per token: K and V, 32 layers, 8 heads of 128, bf16
    assert DENSE_7B.kv_bytes_per_token == kv
    step = decode(DENSE_7B, HW["H100"], batch=8, context=4096)
    assert step.seconds == pytest.approx((14e9 + 8 * 4096 * kv) / 3.35e12)
    assert max_batch(DENSE_7B, HW["H100"], context=4096) == int((80e9 - 14e9) // (4096 * kv))
    assert prefill_seconds(DENSE_7B, HW["H100"], 1000) == pytest.approx(2 * 7e9 * 1000 / 989e12)


def test_moe_reads_more_experts_as_the_batch_grows():
    r1 = KNOWN_PROFILES["deepseek-r1"]
    assert r1.bytes_read_per_step(1) == pytest.approx(37e9, rel=1e-6)  # only the active experts
    assert r1.bytes_read_per_step(512) == pytest.approx(r1.weight_bytes, rel=0.01)
    assert devices_to_hold(r1, HW["H100"]) == 10  # 671 GB over 72 GB usable each


def test_hf_config_profile(tmp_path):
    config = tmp_path / "config.json"
    config.write_text(
        '{"hidden_size": 4096, "num_hidden_layers": 32, "num_attention_heads": 32,'
        ' "num_key_value_heads": 8, "intermediate_size": 14336, "vocab_size": 128256}'
    )
    profile = ModelProfile.from_hf_config(config)
    assert 7.5e9 < profile.params < 8.5e9  # a Llama-3-8B shape
    assert profile.kv_bytes_per_token == 2 * 32 * 8 * 128 * 2


def test_plan_arithmetic():
    workload = Workload(requests_per_day=1000, prompt_tokens=100, completion_tokens=50,
                        model="dense-7b", strategy="self_consistency", strategy_params={"n": 4},
                        hardware=["H100"], training_tokens=1e9)  # fmt: skip
    plan = make_plan(workload)
    assert plan.prompt_tokens_per_day == 1000 * 100  # one shared prefill per answer
    assert plan.completion_tokens_per_day == 1000 * 50 * 4
    assert plan.flops_per_day == 2 * 7e9 * (100_000 + 200_000)
    assert plan.days_to_match_training == pytest.approx(6 * 7e9 * 1e9 / plan.flops_per_day)
    [row] = plan.rows
    assert row.devices == 1 and row.usd_per_day == pytest.approx(24 * HW["H100"].usd_per_hour)


def by_hand(workload, row, batch):
    """(latency, sequences in flight per replica, busy share of each replica) of `row`'s chip
    at `batch`, from the roofline alone (dense-7b fits on one device of these chips)."""
    hw = HW[row.hardware]
    prompt_mult, completion_mult = workload.multipliers()
    context = (workload.prompt_tokens + workload.completion_tokens) // 2
    step = decode(DENSE_7B, hw, batch, context)
    latency = (
        prefill_seconds(DENSE_7B, hw, workload.prompt_tokens)
        + workload.completion_tokens * step.seconds
    )
    arrivals = workload.requests / DAY / row.replicas * completion_mult  # sequences per second
    completion = workload.requests * workload.completion_tokens * completion_mult
    prompt = workload.requests * workload.prompt_tokens * prompt_mult
    busy = completion / step.tokens_per_second + prefill_seconds(DENSE_7B, hw, prompt)
    return latency, arrivals * latency, busy / DAY / row.replicas


def test_one_answer_a_day_is_served_at_batch_1():
    # the example: 1,000-token answers once a day used to plan batch 256 and 9.2 s
    workload = Workload(requests_per_day=1, prompt_tokens=1, completion_tokens=1000,
                        model="dense-7b", hardware=["H100"])  # fmt: skip
    [row] = make_plan(workload).rows
    assert (row.devices, row.replicas, row.batch, row.largest_batch) == (1, 1, 1, 256)
    step = decode(DENSE_7B, HW["H100"], batch=1, context=500)
    assert row.latency_seconds == pytest.approx(1000 * step.seconds, rel=1e-3)
    assert row.latency_seconds == pytest.approx(4.2, abs=0.05)  # ≈ 239 tokens/s
    assert row.decode_tokens_per_second == pytest.approx(step.tokens_per_second)
    assert row.in_flight == pytest.approx(row.latency_seconds / DAY)
    assert row.utilization == pytest.approx(row.latency_seconds / DAY, rel=1e-3)


def test_a_heavy_load_runs_a_large_batch_on_more_replicas():
    workload = Workload(requests_per_day=5e7, model="dense-7b", hardware=["H100", "L4"])
    h100, l4 = make_plan(workload).rows
    for row in (h100, l4):
        # replicas as before: the fewest whose largest batch keeps up at `utilization`
        *_, busy_at_largest = by_hand(workload, row, row.largest_batch)
        assert row.replicas == math.ceil(busy_at_largest * row.replicas / workload.utilization)
        assert row.replicas > 1 and row.devices == row.replicas
        assert row.usd_per_day == pytest.approx(row.devices * 24 * HW[row.hardware].usd_per_hour)
        assert row.batch > 0.9 * row.largest_batch
        assert row.utilization <= workload.utilization
        # the smallest batch that keeps up: one fewer does not
        assert by_hand(workload, row, row.batch - 1)[2] > workload.utilization
    assert (h100.largest_batch, l4.largest_batch) == (256, 54)  # max_batch; the L4's KV cache
    table = plan_table(make_plan(workload))
    assert "more replicas where one cannot keep up even at its largest batch" in table.caption
    assert "H100 ×37 (batch ≤ 256)" in table.caption


@pytest.mark.parametrize("requests_per_day", [1, 1e3, 1e5, 1e6, 5e7])
@pytest.mark.parametrize(
    ("strategy", "params"), [("cot", {}), ("self_consistency", {"n": 8}), ("direct", {})]
)
def test_in_flight_is_arrivals_times_latency(requests_per_day, strategy, params):
    workload = Workload(requests_per_day=requests_per_day, model="dense-7b", strategy=strategy,
                        strategy_params=params, hardware=["H100", "A100", "L4"])  # fmt: skip
    for row in make_plan(workload).rows:
        latency, in_flight, busy = by_hand(workload, row, row.batch)
        assert row.latency_seconds == pytest.approx(latency)
        assert row.in_flight == pytest.approx(in_flight)  # Little's law
        assert row.utilization == pytest.approx(busy)
        assert row.in_flight <= row.batch <= row.largest_batch
        assert row.utilization <= workload.utilization * (1 + 1e-9)


def test_the_batch_grows_to_hold_what_is_in_flight():
    # 8 samples of 100 tokens after an 8,000-token prompt on an L4, run flat out: a batch of 6
    # keeps up, but 8 sequences an answer for 0.6 s each leave more than 6 in flight
    workload = Workload(requests_per_day=1e4, prompt_tokens=8000, completion_tokens=100,
                        model="dense-7b", strategy="self_consistency", strategy_params={"n": 8},
                        hardware=["L4"], utilization=1.0)  # fmt: skip
    [row] = make_plan(workload).rows
    assert (row.replicas, row.batch, row.largest_batch) == (1, 7, 9)
    _, in_flight, busy = by_hand(workload, row, row.batch - 1)
    assert busy <= workload.utilization and in_flight > row.batch - 1
    assert row.in_flight <= row.batch


def test_fit_cpu_reproduces_its_own_measurements():
    model = ModelProfile("m", 1e9, 1e9, 24, 2, 64, bytes_per_weight=0.5)
    cpu = fit_cpu([(model, 50.0)], model, rate_8=120.0)
    assert cpu.step_overhead == 0.0
    assert decode(model, cpu, 1, 0).tokens_per_second == pytest.approx(50.0)
    assert decode(model, cpu, 8, 0).tokens_per_second == pytest.approx(120.0)


def test_fit_cpu_with_two_sizes_separates_overhead_from_bandwidth():
    # truth: 20 GB/s, 3 ms fixed per step, 100 GFLOP/s
    small = ModelProfile("s", 2e8, 2e8, 12, 2, 64, bytes_per_weight=0.5)
    big = ModelProfile("b", 1e9, 1e9, 24, 2, 64, bytes_per_weight=0.5)
    held_out = ModelProfile("h", 3e9, 3e9, 28, 2, 64, bytes_per_weight=0.5)

    def rate_1(m):
        return 1 / (0.003 + m.active_weight_bytes / 20e9)

    rate_8 = 8 / (0.003 + 2 * 1e9 * 8 / 100e9)
    cpu = fit_cpu([(small, rate_1(small)), (big, rate_1(big))], big, rate_8)
    assert cpu.memory_bandwidth == pytest.approx(20e9)
    assert cpu.step_overhead == pytest.approx(0.003)
    assert cpu.bf16_flops == pytest.approx(100e9)
    assert decode(held_out, cpu, 1, 0).tokens_per_second == pytest.approx(rate_1(held_out))
    with pytest.raises(ThinktimeError, match="bigger models decoded faster"):
        fit_cpu([(small, 10.0), (big, 50.0)], big, rate_8)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "model: dense-7b\nagents: 10\n",
            "give requests_per_day, or agents and steps_per_agent_per_day",
        ),
        ("model: dense-7b\nrequests_per_day: 5\ncolour: red\n", "field 'colour': Extra inputs"),
        ("model: dense-7b\nrequests_per_day: -5\n", "field 'requests_per_day'"),
        ("requests_per_day: 5\n", "field 'model': Field required"),
        ("model: [unclosed\n", "is not YAML"),
    ],
)
def test_bad_workloads_name_the_field(tmp_path, text, message):
    path = tmp_path / "w.yaml"
    path.write_text(text)
    with pytest.raises(ThinktimeError, match=message.replace("(", r"\(")):
        load_workload(path)


def test_bad_values_in_a_valid_file(tmp_path):
    with pytest.raises(ThinktimeError, match="unknown hardware"):
        make_plan(Workload(requests_per_day=1, model="dense-7b", hardware=["TPU9"]))
    with pytest.raises(ThinktimeError, match="no token multiplier for strategy 'dvts'"):
        make_plan(Workload(requests_per_day=1, model="dense-7b", strategy="dvts"))
    with pytest.raises(ThinktimeError, match="unknown model 'gpt-99' for planning"):
        make_plan(Workload(requests_per_day=1, model="gpt-99"))


def test_cheapest_configuration_from_bench_results():
    from thinktime.bench.store import SampleRow, Store
    from thinktime.plan.cheapest import cheapest

    store = Store(":memory:")
    for i in range(4):
        for model, config, correct, tokens in (
            ("dense-7b", "cot", i < 2, 300),  # 50% accurate, 300 tokens
            ("dense-7b", "self_consistency:n=8", i < 3, 2400),  # 75%, 8× the tokens
            ("dense-70b", "cot", i < 3, 300),  # 75%, a 10× bigger model
        ):
            verdict = "correct" if correct else "wrong"
            row = {"task": "t", "question_id": f"q{i}", "model": model, "config": config,
                   "strategy": config.split(":")[0], "params": {}, "verdict": verdict,
                   "prompt_tokens": 100, "completion_tokens": tokens, "flops": 1.0,
                   "seconds": 1.0, "engine_seconds": 1.0}  # fmt: skip
            store.add(row, [SampleRow("x", "1", verdict, "stop", tokens)])
    workload = Workload(requests_per_day=5e7, model="dense-7b", hardware=["H100", "L4"])
    options = cheapest(store, workload, target=0.7)
    assert {(o.model, o.config) for o in options} == {
        ("dense-7b", "self_consistency:n=8"),
        ("dense-70b", "cot"),
    }
    assert options == sorted(options, key=lambda o: o.usd_per_day)
    assert all(o.hardware in ("H100", "L4") for o in options)
    assert cheapest(store, workload, target=0.9) == []
