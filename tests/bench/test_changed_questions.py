"""A question edited in its file is asked again, never answered with its old verdict
(issue 25, item 1: 6×7 → 6×8 reported the old verdicts)."""

from __future__ import annotations

import json
import sqlite3

from thinktime.backends.fake import FakeBackend
from thinktime.bench.runner import run_sweep
from thinktime.bench.store import Store
from thinktime.tasks.jsonl import load


def _write(path, rows):
    path.write_text("".join(json.dumps({"question": q, "answer": a}) + "\n" for q, a in rows))


def _multiplier(request, index):
    """Answers the product the question asks for ("What is 6*8?")."""
    question = request.messages[-1].content
    left, right = question.removeprefix("What is ").removesuffix("?").split("*")
    return f"\\boxed{{{int(left) * int(right)}}}"


def test_an_edited_question_is_asked_again(tmp_path):
    data, db = tmp_path / "qa.jsonl", tmp_path / "r.db"
    _write(data, [("What is 6*7?", "42"), ("What is 2*3?", "6")])
    store = Store(db)
    assert run_sweep(load(str(data)), {"fake": FakeBackend(_multiplier)}, ["cot"], store) == 2
    _write(data, [("What is 6*8?", "48"), ("What is 2*3?", "6")])  # question 0 edited
    backend = FakeBackend(_multiplier)
    assert run_sweep(load(str(data)), {"fake": backend}, ["cot"], store) == 1
    assert len(backend.calls) == 1  # only the edited question ran again
    rows = {r["question_id"]: r for r in store.results()}
    assert rows["qa/0"]["question"] == "What is 6*8?" and rows["qa/0"]["gold"] == "48"
    assert [r["verdict"] for r in rows.values()] == ["correct", "correct"]


def test_a_store_from_before_fingerprints_is_judged_by_its_gold(tmp_path):
    data, db = tmp_path / "qa.jsonl", tmp_path / "r.db"
    _write(data, [("What is 6*7?", "42")])
    store = Store(db)
    run_sweep(load(str(data)), {"fake": FakeBackend(_multiplier)}, ["cot"], store)
    store.close()
    with sqlite3.connect(db) as raw:  # as a schema-5 store left it: no fingerprint
        raw.execute("UPDATE results SET question_hash = NULL, question = NULL")
    _write(data, [("What is 6*8?", "48")])
    store = Store(db)
    assert run_sweep(load(str(data)), {"fake": FakeBackend(_multiplier)}, ["cot"], store) == 1
    [row] = store.results()
    assert (row["gold"], row["verdict"]) == ("48", "correct")
