"""The bench stores the validated call beside each result (schema 8), and reads it back typed:
a report parses no config text again, an old store migrates and still reads (its config text is
parsed once, as before), and a stored call is the one the item ran."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

import pytest

from thinktime.backends.fake import FakeBackend
from thinktime.bench.configs import parse_config, pool_size, stored_call
from thinktime.bench.results import curve_points
from thinktime.bench.runner import run_sweep
from thinktime.bench.store import MIGRATIONS, Store, _statements
from thinktime.call import Call
from thinktime.errors import ThinktimeError
from thinktime.strategies.self_consistency import SelfConsistencyParams
from thinktime.tasks import Problem, Task

ANSWER = "Two and three make five. \\boxed{5}"


def toy_task() -> Task:
    return Task("toy", [Problem("toy/0", "2+3?", "5"), Problem("toy/1", "1+4?", "5")])


def count_validations(monkeypatch: pytest.MonkeyPatch, model: Any) -> list[int]:
    """A one-item list holding how often `model` has been validated (by any route) since."""
    calls, real = [0], model.__pydantic_validator__

    class Counting:
        def validate_python(self, *args: Any, **kwargs: Any) -> Any:
            calls[0] += 1
            return real.validate_python(*args, **kwargs)

        def __getattr__(self, name: str) -> Any:
            return getattr(real, name)

    monkeypatch.setattr(model, "__pydantic_validator__", Counting())
    return calls


def test_each_result_records_the_call_it_ran(tmp_path):
    store = Store(tmp_path / "toy.db")
    config = "self_consistency:n=3,temperature=0.5,max_tokens=99"
    assert run_sweep(toy_task(), {"fake": FakeBackend([ANSWER])}, [config], store,
                     max_tokens=64, seed=7) == 2  # fmt: skip
    for row in store.results():
        recorded = json.loads(row["call"])
        assert recorded["strategy"] == "self_consistency" and recorded["params"]["n"] == 3
        # the config's own sampling wins over the sweep's; the sweep's seed fills the rest
        assert recorded["sampling"]["max_tokens"] == 99 and recorded["sampling"]["seed"] == 7
        assert recorded["sampling"]["temperature"] == 0.5 and recorded["verifier"] is None
        assert json.loads(row["params"]) == {"n": 3, "temperature": 0.5, "max_tokens": 99}


def test_a_scoring_configs_record_names_its_verifier(tmp_path):
    store = Store(tmp_path / "toy.db")
    backend = FakeBackend([ANSWER, "\\boxed{0.9}"])
    run_sweep(toy_task(), {"fake": backend}, ["best_of_n:n=2"], store)
    assert {json.loads(row["call"])["verifier"] for row in store.results()} == {"judge"}


def test_the_stored_call_reads_back_typed_without_validation(monkeypatch, tmp_path):
    store = Store(tmp_path / "toy.db")
    run_sweep(toy_task(), {"fake": FakeBackend([ANSWER])}, ["self_consistency:n=4"], store)
    counter = count_validations(monkeypatch, SelfConsistencyParams)
    call = stored_call("self_consistency:n=4", store.results()[0]["call"])
    assert isinstance(call.params, SelfConsistencyParams) and call.params.n == 4
    assert pool_size(call) == 4 and call.samples == 4
    assert [p.k for p in curve_points(store)] == [1, 2, 4]
    assert counter[0] == 0  # read back as validated: the config text is never parsed again


def test_a_record_round_trips_to_the_same_call():
    call = parse_config("best_of_n:n=3,mode=weighted,verifier=self_certainty,top_p=0.9").call
    again = Call.from_record(json.loads(json.dumps(call.record())))
    assert again.params.model_dump() == call.params.model_dump()
    assert again.sampling.model_dump() == call.sampling.model_dump()
    assert (again.strategy, again.verifier_name, again.scores) == (
        "best_of_n", "self_certainty", True)  # fmt: skip


def old_store(path: Any, version: int = 7) -> None:
    """A store as a thinktime of schema `version` left it, with one pool result in it."""
    db = sqlite3.connect(path)
    for script in MIGRATIONS[:version]:
        for statement in _statements(script):
            db.execute(statement)
    db.execute(f"PRAGMA user_version = {version}")
    db.execute(
        "INSERT INTO results (task, question_id, model, config, strategy, params, gold, answer,"
        " verdict, completion_tokens, flops) VALUES ('toy', 'toy/0', 'fake',"
        " 'self_consistency:n=2', 'self_consistency', '{\"n\": 2}', '5', '5', 'correct', 8, 1.0)"
    )
    for idx in range(2):
        db.execute(
            "INSERT INTO samples (result_id, idx, text, answer, verdict, completion_tokens)"
            " VALUES (1, ?, 'x', '5', 'correct', 4)",
            (idx,),
        )
    db.commit()
    db.close()


@pytest.mark.parametrize("version", [2, 7])
def test_an_old_store_migrates_and_reads_by_parsing_its_config_once(monkeypatch, tmp_path, version):
    path = tmp_path / "old.db"
    old_store(path, version)
    reader = Store(path, readonly=True)  # a viewer: no migration, no `call` column
    assert reader.version == version and "call" not in reader.results()[0]
    assert [p.k for p in curve_points(reader)] == [1, 2]
    store = Store(path)
    assert store.version == len(MIGRATIONS) == 8
    assert store.results()[0]["call"] is None
    counter = count_validations(monkeypatch, SelfConsistencyParams)
    assert [p.k for p in curve_points(store)] == [1, 2]
    assert counter[0] == 1  # the text of a result stored before calls were, parsed once
    # and a new result in the migrated store records its call beside the old one's NULL
    task = Task("toy", [Problem("toy/0", "2+3?", "5"), Problem("toy/1", "1+4?", "5")])
    run_sweep(task, {"fake": FakeBackend([ANSWER])}, ["self_consistency:n=2"], store)
    assert [row["call"] is None for row in store.results()] == [True, False]


def test_a_bad_sweep_max_tokens_is_refused_before_any_compute(tmp_path):
    backend = FakeBackend([ANSWER])
    with pytest.raises(ThinktimeError, match="max_tokens"):
        run_sweep(toy_task(), {"fake": backend}, ["cot"], Store(tmp_path / "t.db"), max_tokens=0)
    assert backend.calls == []
