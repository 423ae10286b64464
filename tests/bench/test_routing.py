"""Replays on stored pools, `route`'s compute-optimal routing table fit, matched FLOPs,
`thinktime fit-route`."""

import itertools

import pytest
from typer.testing import CliRunner

from thinktime import solve
from thinktime.backends.fake import FakeBackend
from thinktime.bench.matched import matched
from thinktime.bench.replay import Pool, agreeing, load_pools, prefix_vote, replay_adaptive
from thinktime.bench.results import Point, curve_points
from thinktime.bench.routing import RoutingTable, compare, evaluate, fit_table, savings, uniform
from thinktime.bench.runner import run_sweep
from thinktime.bench.store import SampleRow, Store
from thinktime.cli import app
from thinktime.errors import ThinktimeError
from thinktime.strategies.adaptive_consistency import AdaptiveParams
from thinktime.tasks import Problem, Task

runner = CliRunner()


def _pool(answers: str, gold: str = "1", tokens: int = 10) -> Pool:
    return Pool.of([(a, a == gold, tokens) for a in answers])


@pytest.mark.parametrize(
    ("answers", "params"),
    [
        ("1111" + "2" * 12, AdaptiveParams()),  # unanimous first batch: stops at 4
        ("1212" + "1111" + "2" * 8, AdaptiveParams()),  # split, then settles later
        ("1234" * 4, AdaptiveParams()),  # never settles: all 16
        ("12" + "11" + "3" * 12, AdaptiveParams(rule="window", window=2, batch=2)),
    ],
)
def test_replay_matches_the_live_strategy(answers, params):
    drawn = itertools.count()
    backend = FakeBackend(lambda request, index: f"\\boxed{{{answers[next(drawn)]}}}")
    live = solve("q?", backend=backend, strategy="adaptive_consistency", **params.model_dump())
    hit, _, used = replay_adaptive(_pool(answers), params)
    assert used == live.details["samples_used"] == next(drawn)
    assert hit == (live.answer == "1")


def test_prefix_vote_and_agreeing():
    pool = _pool("2211111")
    assert prefix_vote(pool, 2) == (False, 20) and prefix_vote(pool, 7) == (True, 70)
    assert prefix_vote(pool, 99) == (True, 70)  # k beyond the pool: all of it
    assert agreeing(pool, 4) == 2 and agreeing(pool, 7) == 5


def test_the_fit_spends_where_samples_help_and_keeps_the_budget():
    easy, contested, hopeless = _pool("1" * 8), _pool("21211111"), _pool("23452345")
    pools = [easy, contested, hopeless] * 3
    assert uniform(pools, 2).accuracy == pytest.approx(1 / 3)
    assert uniform(pools, 8).accuracy == pytest.approx(2 / 3)
    table = fit_table(pools, probe=2, ks=(2, 4, 8), budget=60)  # uniform 8 costs 80
    # easy (2 agree) stops at 2; the 1-agree bin holds contested and hopeless: 8 rescues one
    assert table.choice == {2: 2, 1: 8}
    score = evaluate(pools, table)
    assert score.accuracy == pytest.approx(2 / 3) and score.tokens == 60
    # within a budget too small for anything, it spends the least
    assert fit_table(pools, 2, (2, 4), budget=1).choice == {2: 2, 1: 2}
    rows = compare(pools, 2, (2, 4, 8))
    assert [r.uniform_k for r in rows] == [2, 4, 8]
    assert all(r.fitted.accuracy >= r.uniform.accuracy for r in rows)  # in-sample: never worse
    spent, best = savings(pools, 2, (2, 4, 8))
    assert spent < best == uniform(pools, 8).tokens


def test_fit_errors():
    with pytest.raises(ThinktimeError, match="no pools"):
        fit_table([], 4, (4, 8), 100)
    with pytest.raises(ThinktimeError, match="≥ the probe"):
        fit_table([_pool("1111")], 4, (2, 4), 100)


def test_a_fitted_table_runs_as_route():
    table = RoutingTable(probe=4, choice={4: 4, 3: 8, 2: 16})
    assert table.k_for(1) == 16 and table.k_for(3) == 8  # unseen agreement: the bin below
    params = table.route_params()
    assert set(params) == {"probe_n", "table"}  # route's own parameter names
    for answers, expected in (("1111", 4), ("1112", 8), ("1122", 16), ("1234", 16)):
        backend = FakeBackend(lambda r, i, a=answers: f"\\boxed{{{a[i % 4]}}}")
        result = solve("q?", backend=backend, strategy="route", **params)
        assert (
            result.details["samples_used"] == expected == table.k_for(agreeing(_pool(answers), 4))
        )


def test_matched_rows_pick_the_best_rival_within_the_flops():
    points = [
        Point("small", "cot", None, 0.3, 300, 1e11),
        Point("small", "sc", 4, 0.5, 1200, 4e11),
        Point("small", "sc", 16, 0.6, 4800, 1.6e12),
        Point("large", "cot", None, 0.55, 300, 3e11),
    ]
    rows = {(r.model, r.config): r for r in matched(points)}
    assert rows[("large", "cot")].rival_config == "cot"  # the small's best at ≤ 3e11
    assert rows[("small", "sc@16")].rival_accuracy == 0.55
    assert rows[("small", "cot")].rival_config is None  # nothing of the large's is that cheap


def _store(tmp_path) -> Store:
    answers = {0: "1111", 1: "2121", 2: "3456"}  # per question: the 4 samples' answers
    task = Task("toy", [Problem(f"toy/{i}", f"{i}?", "1") for i in range(9)])

    def script(request, index):
        return f"\\boxed{{{answers[int(request.messages[-1].content[0]) % 3][index]}}}"

    store = Store(tmp_path / "pool.db")
    run_sweep(task, {"fake": FakeBackend(script)}, ["self_consistency:n=4"], store, slots=4)
    return store


def test_load_pools_keeps_drawn_order_and_question_order(tmp_path):
    pools = load_pools(_store(tmp_path), "fake", "self_consistency:n=4")
    assert [p.question_id for p in pools] == [f"toy/{i}" for i in range(9)]
    assert pools[1].answers == ("2", "1", "2", "1") and pools[1].correct == (False, True) * 2


def test_pool_flops_charge_the_shared_prefill_once(tmp_path):
    store = Store(tmp_path / "p.db")
    row = {"task": "t", "question_id": "q", "model": "m", "config": "self_consistency:n=4",
           "strategy": "self_consistency", "params": {"n": 4}, "verdict": "correct",
           "prompt_tokens": 100, "completion_tokens": 400, "flops": 1e3, "seconds": 1}  # fmt: skip
    store.add(row, [SampleRow("", "1", "correct", "stop", 100)] * 4)
    k1 = next(p for p in curve_points(store) if p.k == 1)
    assert k1.tokens == 100 and k1.flops == pytest.approx(200 + 800 / 4)


def test_fit_route_command(tmp_path):
    store = _store(tmp_path)
    path = str(tmp_path / "pool.db")
    store.close()
    args = [
        "fit-route",
        "--store",
        path,
        "-m",
        "fake",
        "-s",
        "self_consistency:n=4",
        "--probe",
        "2",
    ]
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "held-out" in result.output and '"probe_n": 2' in result.output
    missing = runner.invoke(app, ["fit-route", "--store", str(tmp_path / "no.db"), "-m", "fake"])
    assert missing.exit_code == 2 and "results file not found" in missing.output
    other = runner.invoke(app, ["fit-route", "--store", path, "--model", "nope"])
    assert other.exit_code == 2 and "no results for model 'nope'" in other.output
    bad = runner.invoke(app, [*args[:-1], "4"])
    assert bad.exit_code == 2 and "--probe must be between 1 and 3" in bad.output


def test_fit_route_defaults_to_the_only_model_and_prints_json(tmp_path):
    import json

    store = _store(tmp_path)
    path = str(tmp_path / "pool.db")
    args = ["fit-route", "--store", path, "-s", "self_consistency:n=4", "--probe", "2", "--json"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    fitted = json.loads(result.stdout)
    assert fitted["model"] == "fake" and fitted["probe"] == 2 and fitted["ks"] == [2, 4]
    assert sum(b["questions"] for b in fitted["bins"]) == 9
    assert {"budget_tokens", "uniform", "fitted", "held_out", "k_per_bin"} <= set(fitted["rows"][0])
    assert fitted["route"]["params"]["probe_n"] == 2
    # the printed parameters are what `route` takes: they run as they are
    ran = solve(
        "1?", backend=FakeBackend(["\\boxed{1}"]), strategy="route", **fitted["route"]["params"]
    )
    assert ran.details["samples_used"] == 2
    assert set(fitted["savings"]) == {"table_tokens", "uniform_tokens"}
    row = {"task": "t", "question_id": "q", "model": "other", "config": "cot",
           "strategy": "cot", "params": {}, "verdict": "correct", "prompt_tokens": 1,
           "completion_tokens": 1, "flops": 1.0, "seconds": 1}  # fmt: skip
    store.add(row, [SampleRow("", "1", "correct", "stop", 1)])
    store.close()
    several = runner.invoke(app, args)
    assert several.exit_code == 2 and "Traceback" not in several.output
    assert "2 models (fake, other); pass -m/--model" in several.stderr


def test_the_old_name_of_routes_table_is_refused_in_one_line():
    """`policy` was `route`'s table until issue 23: a config still using it is told the names."""
    old = "policy"
    args = ["solve", "2+2?", "-m", "fake", "-s", f'route:{old}=[[0.0,2,"all"]]']
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert f"{old}=" in result.stderr and "(probe_n, table)" in result.stderr
    with pytest.raises(ThinktimeError, match=r"\(probe_n, table\)"):
        solve("?", backend=FakeBackend(), strategy="route", **{old: [[0.0, 2, "all"]]})
