"""Sweeps on Ray: a local cluster, 2 workers; every (question, config) stored exactly once,
also when a worker dies mid-run; the driver alone writes; resume and errors as in one process."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from thinktime.bench.ray_sweep import RaySweepStats, SweepWorker, run_ray_sweep
from thinktime.bench.runner import run_sweep
from thinktime.bench.store import Store
from thinktime.errors import ThinktimeError
from thinktime.tasks import Problem, Task

ray = pytest.importorskip("ray")

CONFIGS = ["cot", "self_consistency:n=4"]


@pytest.fixture(scope="module")
def cluster():
    """One local Ray cluster for the module (starting one takes seconds)."""
    import ray.cloudpickle

    from tests.helpers import ray_backends

    ray.cloudpickle.register_pickle_by_value(ray_backends)  # workers need not import tests/
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray_backends
    ray.shutdown()


def toy_task(size: int = 12) -> Task:
    return Task(
        "toy", [Problem(f"toy/{i}", f"Question {i}: what is {i}?", str(i)) for i in range(size)]
    )


def stored(path: Path) -> list[tuple[str, str, int]]:
    """(config, question, samples) per stored result, read straight from the file."""
    db = sqlite3.connect(path)
    rows = db.execute(
        "SELECT r.config, r.question_id, count(s.idx) FROM results r "
        "JOIN samples s ON s.result_id = r.id GROUP BY r.id"
    ).fetchall()
    db.close()
    return rows


def check_exactly_once(path: Path, task: Task) -> None:
    rows = stored(path)
    keys = [(config, question) for config, question, _ in rows]
    assert len(keys) == len(set(keys)) == len(task.problems) * len(CONFIGS)
    assert {samples for config, _, samples in rows if config == "cot"} == {1}
    assert {samples for config, _, samples in rows if config != "cot"} == {4}


def test_two_workers_store_every_item_once_and_resume_adds_nothing(cluster, tmp_path):
    task, path = toy_task(), tmp_path / "toy.db"
    store = Store(path)
    seen: list[tuple[str, int, int]] = []
    stats = RaySweepStats()
    added = run_ray_sweep(
        task, ["fake"], CONFIGS, store, workers=2, factory=cluster.scripted, slots=4,
        stats=stats, progress=lambda label, done, total, tokens: seen.append((label, done, total)),
    )  # fmt: skip
    assert added == stats.stored == 24 and stats.workers_lost == 0
    check_exactly_once(path, task)
    # every answer is its own question's: the workers graded what the driver asked for
    assert all(r["verdict"] == "correct" for r in store.results())
    assert ("fake · cot", 12, 12) in seen and ("fake · self_consistency:n=4", 12, 12) in seen
    assert run_ray_sweep(task, ["fake"], CONFIGS, store, workers=2, factory=cluster.scripted) == 0


def test_a_worker_killed_mid_run_loses_and_duplicates_nothing(cluster, tmp_path):
    task, path = toy_task(16), tmp_path / "toy.db"
    marker = tmp_path / "die-once"
    marker.touch()
    stats = RaySweepStats()
    store = Store(path)
    run_ray_sweep(
        task, ["fake"], CONFIGS, store, workers=2, slots=4, stats=stats,
        factory=cluster.dying(str(marker)),
    )  # fmt: skip
    assert not marker.exists(), "no worker died: the test did not test anything"
    assert stats.workers_lost == 1 and stats.retried >= 1
    check_exactly_once(path, task)
    assert stats.stored == 32


def test_the_ray_sweep_stores_what_one_process_stores(cluster, tmp_path):
    task = toy_task(6)
    one, many = Store(tmp_path / "one.db"), Store(tmp_path / "many.db")
    run_sweep(task, {"fake": cluster.scripted("fake")}, CONFIGS, one)
    run_ray_sweep(task, ["fake"], CONFIGS, many, workers=2, factory=cluster.scripted)

    def key(row: dict) -> tuple:
        drop = {"id", "created", "seconds", "engine_seconds"}
        return tuple(sorted((k, v) for k, v in row.items() if k not in drop))

    assert sorted(map(key, one.results())) == sorted(map(key, many.results()))


def test_an_error_in_an_item_stops_the_sweep_with_the_item_named(cluster, tmp_path):
    task = toy_task(2)
    with pytest.raises(ThinktimeError, match=r"fake · cot · toy/\d failed on a worker"):
        run_ray_sweep(
            task, ["fake"], ["cot"], Store(tmp_path / "t.db"), workers=1,
            factory=cluster.broken,
        )  # fmt: skip


def test_bad_worker_count_is_refused_before_ray_starts(tmp_path):
    with pytest.raises(ThinktimeError, match="--workers must be at least 1"):
        run_ray_sweep(toy_task(1), ["fake"], ["cot"], Store(tmp_path / "t.db"), workers=0)


def test_the_worker_body_runs_without_ray():
    worker = SweepWorker(toy_task(1), 64, 0)
    from thinktime.bench.ray_sweep import Item

    row, samples, steps, tree = worker.run(Item("fake", "self_consistency:n=3", "toy/0"))
    assert row["config"] == "self_consistency:n=3" and len(samples) == 3 and steps == tree == []


@pytest.mark.integration
def test_a_real_sweep_on_two_workers_each_with_its_own_engine(cluster, tmp_path):
    """The embedded 0.5B on 2 workers (one thread each): every item stored once, real text."""
    task = Task(
        "arith",
        [Problem(f"arith/{i}", f"What is {i} + {i + 3}? Put the answer in \\boxed{{}}.",
                 str(2 * i + 3)) for i in range(4)],
    )  # fmt: skip
    store = Store(tmp_path / "real.db")
    stats = RaySweepStats()
    run_ray_sweep(
        task, ["qwen2.5-coder-0.5b"], ["cot"], store, workers=2, max_tokens=48, slots=2,
        hints={"n_parallel": 2, "n_threads": 1}, stats=stats,
    )  # fmt: skip
    results = store.results()
    assert stats.stored == len(results) == 4 and stats.workers_lost == 0
    assert len({r["question_id"] for r in results}) == 4
    assert all(r["completion_tokens"] > 0 for r in results)
    texts = [s["text"] for r in results for s in store.samples(r["id"])]
    assert all(text.strip() for text in texts)


def test_a_short_sweep_is_shared_by_every_worker(cluster, tmp_path):
    """Fewer items than one worker's depth still go to both workers, not all to the first."""
    store = Store(tmp_path / "t.db")
    run_ray_sweep(toy_task(6), ["fake"], ["cot"], store, workers=2, factory=cluster.pid_answers)
    workers = {r["answer"] for r in store.results()}  # each answer is its worker's pid
    assert len(workers) == 2, workers
