"""Bench harness: grading diagnostics, pool estimators, the store, sweeps and resume after kill."""

import itertools
import json
import os
import re
import signal
import subprocess
import sys
import time
from math import comb
from pathlib import Path

import pytest

from thinktime.backends.fake import FakeBackend
from thinktime.bench.configs import parse_assignment, parse_config, pool_size
from thinktime.bench.grading import diagnose
from thinktime.bench.pools import bon_at_k, maj_at_k, pass_at_k
from thinktime.bench.results import bootstrap_ci, curve_points, pareto, summarize
from thinktime.bench.runner import concurrency, run_sweep
from thinktime.bench.store import MIGRATIONS, Store
from thinktime.errors import ThinktimeError
from thinktime.tasks import Problem, Task


def test_diagnostics_are_kept_apart():
    assert diagnose("\\boxed{5}", "5", "stop", 1.0) == "correct"
    assert diagnose("cut off but \\boxed{5}", "5", "length", 1.0) == "correct"
    assert diagnose("\\boxed{4}", "4", "stop", 0.0) == "wrong"
    assert diagnose("no idea", None, "stop", 0.0) == "unparseable"
    assert diagnose("   ", None, "stop", 0.0) == "empty"
    assert diagnose("long and \\boxed{4}", "4", "length", 0.0) == "truncated"


@pytest.mark.parametrize(
    ("n", "c", "k"), [(10, 3, 1), (10, 3, 4), (16, 0, 8), (16, 15, 2), (5, 5, 5)]
)
def test_pass_at_k_matches_the_closed_form(n, c, k):
    # the probability that a uniformly random k-subset contains a correct sample, by enumeration
    hits = sum(any(i < c for i in subset) for subset in itertools.combinations(range(n), k))
    assert pass_at_k(n, c, k) == pytest.approx(hits / comb(n, k))


def test_maj_at_k_on_a_fake_pool():
    answers = ["1", "1", "2", "2", "2", "3"]
    correct = [a == "2" for a in answers]
    # k = N: the pool's own majority; k = 1: the share of correct samples
    assert maj_at_k(answers, correct, k=6) == 1.0
    assert maj_at_k(answers, correct, k=1) == pytest.approx(0.5)
    # k = 2 by hand: of 15 pairs, the vote is "2" when both are 2 (3 pairs) or "2" comes first
    # in pool order against another answer — only pairs (2, 3) qualify: 3 pairs → 6/15
    assert maj_at_k(answers, correct, k=2) == pytest.approx(6 / 15)
    estimate = maj_at_k(answers * 4, correct * 4, k=5, trials=300, seed=1)
    assert 0.4 < estimate < 1.0


def test_bon_at_k():
    scores = [0.9, 0.1, 0.5]
    assert bon_at_k(scores, [True, False, False], k=3) == 1.0
    assert bon_at_k(scores, [True, False, False], k=1) == pytest.approx(1 / 3)


def test_bootstrap_and_pareto():
    low, high = bootstrap_ci([1.0] * 50 + [0.0] * 50, resamples=500)
    assert low < 0.5 < high and high - low < 0.3
    from thinktime.bench.results import Point

    points = [Point("a", "x", None, 0.3, 100, None), Point("a", "y", None, 0.2, 200, None),
              Point("b", "z", None, 0.5, 400, None)]  # fmt: skip
    assert [p.config for p in pareto(points)] == ["x", "z"]


def test_config_parsing():
    cot = parse_config("cot")
    assert (cot.strategy, cot.params.model_dump(), cot.sampling, cot.samples) == ("cot", {}, {}, 1)
    assert pool_size(parse_config("self_consistency:n=16")) == 16
    assert pool_size(parse_config("best_of_n:n=4,mode=weighted")) == 4
    assert pool_size(parse_config("budget_forcing:max_thinking_tokens=64")) == 0
    forced = "self_consistency:n=4,sampler=budget_forcing"
    assert pool_size(parse_config(forced)) == 0
    with pytest.raises(ThinktimeError, match="bad parameters for strategy 'self_consistency'"):
        parse_config("self_consistency:n=0")
    with pytest.raises(ThinktimeError, match="write STRATEGY:NAME=VALUE"):
        parse_config("self_consistency:16")


def test_a_config_becomes_typed_params_and_sampling_fields():
    config = parse_config("self_consistency: n=16, temperature=0.7,top_p=0.9")
    assert config.params.n == 16 and config.params.sampler == "cot"
    assert config.sampling == {"temperature": 0.7, "top_p": 0.9}
    assert config.assignments == {"n": 16, "temperature": 0.7, "top_p": 0.9}
    assert parse_config("route:probe_n=2").params.table[0] == (0.75, 0, "easy")


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ("self_consistency:beams=2", "neither a parameter of strategy 'self_consistency' ("),
        ("cot:n=4", "strategy 'cot' draws one sample and takes no n"),
        ("self_consistency:temperature=9", "temperature must be a number >= 0.0 and <= 2.0"),
        ("beam_search:beams=0", "its parameters: beams, expand, max_steps"),
        ("self_consistency:=3", "write STRATEGY:NAME=VALUE"),
    ],
)
def test_a_bad_config_is_one_line_naming_the_valid_parameters(config, message):
    with pytest.raises(ThinktimeError, match=re.escape(message)) as caught:
        parse_config(config)
    assert str(caught.value).startswith(f"bad config {config!r}")
    assert "\n" not in str(caught.value)


def test_a_bad_config_fails_before_any_compute(tmp_path):
    backend = FakeBackend(_adder)
    store = Store(tmp_path / "r.db")
    with pytest.raises(ThinktimeError, match="neither a parameter"):
        run_sweep(_task(3), {"fake": backend}, ["cot", "self_consistency:beam=2"], store)
    assert backend.calls == [] and store.results() == []


def test_the_assignment_parser_is_shared():
    assert parse_assignment("max_rounds=3", "x") == ("max_rounds", 3)
    assert parse_assignment(" sampler =cot", "x") == ("sampler", "cot")
    assert parse_assignment('table=[[0.0, 2, "all"]]', "x") == ("table", [[0.0, 2, "all"]])
    for bad in ("n", "=3", ""):
        with pytest.raises(ThinktimeError, match=r"^say it right$"):
            parse_assignment(bad, "say it right")


@pytest.mark.parametrize(
    ("config", "in_flight"),
    [
        ("cot", 17),
        ("self_consistency:n=16", 2),
        ("self_consistency:n=4", 5),
        ("adaptive_consistency:max_n=16,batch=4", 5),
        ("beam_search:beams=4,expand=2", 3),
        ("route", 3),
        ("budget_forcing", 17),
    ],
)
def test_concurrency_follows_the_strategys_declaration(config, in_flight):
    assert concurrency(parse_config(config).samples, 16) == in_flight


def test_the_sweep_keeps_the_declared_concurrency_in_flight(tmp_path, monkeypatch):
    import thinktime.bench.runner as runner

    widths = []
    pools = runner.ThreadPoolExecutor

    def recording(workers):
        widths.append(workers)
        return pools(workers)

    monkeypatch.setattr(runner, "ThreadPoolExecutor", recording)
    configs = ["cot", "best_of_n:n=8", "beam_search:beams=2,expand=3,max_steps=1"]
    run_sweep(_task(1), {"fake": FakeBackend(["\\boxed{1}"])}, configs, Store(tmp_path / "r.db"))
    assert widths == [17, 3, 4]


def test_store_migrates_and_is_wal(tmp_path):
    store = Store(tmp_path / "r.db")
    assert store.version == len(MIGRATIONS)
    assert store._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()
    assert Store(tmp_path / "r.db").version == len(MIGRATIONS)  # reopening migrates nothing


def _task(n: int) -> Task:
    return Task("toy", [Problem(f"toy/{i}", f"{i} + 1?", str(i + 1)) for i in range(n)])


def _adder(request, index):
    number = int(request.messages[-1].content.split()[0])
    return f"\\boxed{{{number + 1 if index % 4 else number}}}"  # 3 of every 4 samples right


def test_sweep_stores_every_sample_and_derives_curves(tmp_path):
    store = Store(tmp_path / "r.db")
    added = run_sweep(
        _task(5), {"fake": FakeBackend(_adder)}, ["cot", "self_consistency:n=8"], store
    )
    assert added == 10
    rows = store.results()
    assert {r["config"] for r in rows} == {"cot", "self_consistency:n=8"}
    pool = store.samples(next(r["id"] for r in rows if r["config"] == "self_consistency:n=8"))
    assert len(pool) == 8 and [s["verdict"] for s in pool].count("correct") == 6
    summary = {s.config: s for s in summarize(store)}
    assert summary["cot"].verdicts["wrong"] == 5  # sample 0 is always the wrong one
    assert summary["self_consistency:n=8"].accuracy == 1.0
    curve = [p for p in curve_points(store) if p.config == "self_consistency:n=8"]
    assert [p.k for p in curve] == [1, 2, 4, 8]
    assert curve[0].accuracy == pytest.approx(0.75) and curve[-1].accuracy == 1.0
    assert curve[0].pass_at_k == pytest.approx(0.75) and curve[-1].pass_at_k == 1.0
    # re-running skips everything that is stored
    assert run_sweep(_task(5), {"fake": FakeBackend(_adder)}, ["cot"], store) == 0


SLOW_SWEEP = [str(Path(__file__).parents[1] / "helpers" / "slow_sweep.py")]  # + STORE 60 0.05 8


def test_resume_after_sigkill(tmp_path):
    db = tmp_path / "r.db"
    process = subprocess.Popen([sys.executable, *SLOW_SWEEP, str(db), "60", "0.05", "8"])
    deadline = time.time() + 60
    while time.time() < deadline:  # wait until some (not all) results are stored
        time.sleep(0.1)
        if db.exists() and 5 <= len(Store(db).results()) < 60:
            break
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    partial = len(Store(db).results())
    assert 0 < partial < 60
    subprocess.run(
        [sys.executable, *SLOW_SWEEP, str(db), "60", "0.05", "8"], check=True, timeout=120
    )
    rows = Store(db).results()
    ids = [r["question_id"] for r in rows]
    assert sorted(ids) == sorted(f"toy/{i}" for i in range(60))  # no gaps, no duplicates
    assert all(len(Store(db).samples(r["id"])) == 4 for r in rows)  # no half-written results


def test_throughput_is_the_sweeps_wall_time_not_one_questions_latency():
    from thinktime.bench.store import SampleRow

    store = Store(":memory:")
    # four 10 s questions, two in flight at a time, then one more after an hour's pause
    ends = {
        "q0": "00:00:10",
        "q1": "00:00:10",
        "q2": "00:00:20",
        "q3": "00:00:20",
        "q4": "01:00:00",
    }
    for question, end in ends.items():
        row = {"task": "t", "question_id": question, "model": "m", "config": "cot",
               "strategy": "cot", "params": {}, "verdict": "correct", "prompt_tokens": 10,
               "completion_tokens": 300, "flops": 1.0, "seconds": 10.0, "engine_seconds": 10.0,
               "created": f"2025-01-01 {end}"}  # fmt: skip
        store.add(row, [SampleRow("x", "1", "correct", "stop", 300)])
    [summary] = summarize(store)
    assert summary.latency == 10.0  # what the old `s/q` showed
    assert summary.wall_seconds == pytest.approx(30.0 / 5)  # the pause is not counted
    assert summary.in_flight == pytest.approx(50.0 / 30.0)
    assert summary.tokens_per_second == pytest.approx(5 * 300 / 30.0)
    assert summary.tokens == 300.0


def test_busy_seconds_is_the_union_of_intervals():
    from thinktime.bench.results import busy_seconds

    assert busy_seconds([]) == 0.0
    assert busy_seconds([(0.0, 4.0), (1.0, 2.0), (3.0, 6.0), (8.0, 9.0)]) == 7.0


def test_a_sweep_solves_with_the_configs_typed_params_and_sampling(tmp_path):
    backend = FakeBackend(["\\boxed{1}"])
    configs = ["self_consistency:n=3,temperature=0.3,top_p=0.5", "cot"]
    run_sweep(_task(1), {"fake": backend}, configs, Store(tmp_path / "r.db"), max_tokens=64)
    (sc_requests, sc), (_, cot) = backend.calls
    assert [r.n for r in sc_requests] == [3]
    assert (sc.temperature, sc.top_p, sc.max_tokens, sc.seed) == (0.3, 0.5, 64, 0)
    assert cot.temperature == 0.0  # unset: the strategy's own
    stored = {r["config"]: r["params"] for r in Store(tmp_path / "r.db").results()}
    assert stored["cot"] == "{}"
    assert json.loads(stored[configs[0]]) == {"n": 3, "temperature": 0.3, "top_p": 0.5}
