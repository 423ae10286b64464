"""A store that cannot be used is one line on stderr and exit 2, and is left exactly as it was."""

import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from thinktime.bench import store as store_module
from thinktime.bench.store import MIGRATIONS, SampleRow, Store, StoreError
from thinktime.cli import app

runner = CliRunner()
WORKLOAD = Path(__file__).parents[2] / "docs" / "plan" / "agents-7b-sc8.yaml"
NEWER = f"has schema version 99; this thinktime understands up to {len(MIGRATIONS)}; upgrade"


def _sqlite(path: Path, *statements: str) -> None:
    db = sqlite3.connect(path)
    for statement in statements:
        db.execute(statement)
    db.commit()
    db.close()


def _make(kind: str, path: Path) -> str:
    """Put a bad store of `kind` at `path`; the message it must give."""
    if kind == "random":
        path.write_bytes(os.urandom(4096))
        return "is not a thinktime results store (not an SQLite file)"
    if kind == "text":
        path.write_text("question,answer\n2+2,4\n")
        return "is not a thinktime results store (not an SQLite file)"
    if kind == "corrupt":
        path.write_bytes(b"SQLite format 3\x00" + os.urandom(4080))
        return "is corrupt or not a results store"
    if kind == "folder":
        path.mkdir()
        return "is a folder, not a results file"
    if kind == "foreign":
        _sqlite(path, "CREATE TABLE invoices (id INTEGER)")
        return "is an SQLite file but not a thinktime results store"
    _sqlite(path, "CREATE TABLE results (id INTEGER)", "PRAGMA user_version = 99")
    return f"store {path} {NEWER}"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<folder>"
        for p in sorted(folder.rglob("*"))
    }


def _commands(path: Path, data: Path) -> dict[str, list[str]]:
    return {
        "bench": ["bench", "--task", f"jsonl:{data}", "--model", "fake", "--store", str(path)],
        "report": ["report", "--store", str(path)],
        "fit-route": ["fit-route", "--store", str(path), "--model", "fake"],
        "plan": ["plan", "estimate", str(WORKLOAD), "--store", str(path)],
        "distill": ["distill", "traces", "--task", f"jsonl:{data}", "--model", "fake",
                    "--store", str(path), "--out", str(path.parent / "t.jsonl")],
    }  # fmt: skip


def _assert_one_line(result, message: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.exception.__class__ is SystemExit
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


@pytest.mark.parametrize("kind", ["random", "text", "corrupt", "folder", "foreign", "newer"])
@pytest.mark.parametrize("command", ["bench", "report", "fit-route", "plan", "distill"])
def test_a_bad_store_is_refused_and_left_untouched(tmp_path, kind, command):
    data = tmp_path / "qa.jsonl"
    data.write_text('{"question": "q?", "answer": "42"}\n')
    path = tmp_path / "runs.db"
    message = _make(kind, path)
    before = _snapshot(tmp_path)
    result = runner.invoke(app, _commands(path, data)[command], env={"COLUMNS": "200"})
    _assert_one_line(result, message)
    assert _snapshot(tmp_path) == before


def test_reading_commands_refuse_a_missing_or_empty_store(tmp_path):
    for name in ("missing.db", "empty.db"):
        path = tmp_path / name
        if name == "empty.db":
            path.touch()
        before = _snapshot(tmp_path)
        for command in ("report", "fit-route", "plan"):
            result = runner.invoke(app, _commands(path, tmp_path / "qa.jsonl")[command])
            _assert_one_line(result, "run `thinktime bench` first")
            assert _snapshot(tmp_path) == before


def test_unwritable_places_are_refused_without_creating_anything(tmp_path):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file, not a folder")
    with pytest.raises(StoreError, match=r"notes\.txt is a file, not a folder"):
        Store(blocker / "sub" / "r.db")
    with pytest.raises(StoreError, match=r"store /proc/thinktime-test\.db"):
        Store("/proc/thinktime-test.db")  # not writable, even for root
    assert not Path("/proc/thinktime-test.db").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes to read-only folders")
def test_a_read_only_folder_is_refused(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o555)
    with pytest.raises(StoreError, match="is not writable"):
        Store(folder / "r.db")
    assert list(folder.iterdir()) == []


def test_a_failed_open_removes_what_it_created(tmp_path, monkeypatch):
    def broken(self):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(Store, "_open", broken)
    with pytest.raises(StoreError, match="disk I/O error"):
        Store(tmp_path / "new" / "deeper" / "r.db")
    assert list(tmp_path.iterdir()) == []


def _row(question: str) -> dict:
    return {"task": "t", "question_id": question, "model": "m", "config": "cot",
            "strategy": "cot", "params": {}, "verdict": "correct"}  # fmt: skip


SAMPLE = SampleRow("text", "4", "correct", "stop", 3)


def test_a_second_writer_waits_for_the_lock(tmp_path):
    store = Store(tmp_path / "r.db")
    assert store._db.execute("PRAGMA busy_timeout").fetchone()[0] >= 30_000
    other = sqlite3.connect(tmp_path / "r.db", isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    threading.Timer(0.5, lambda: other.execute("COMMIT")).start()
    store.add(_row("q1"), [SAMPLE])  # waits for the other writer instead of failing
    store.add(_row("q1"), [SAMPLE, SAMPLE])  # stored already (by another bench): kept as it was
    assert [len(store.samples(r["id"])) for r in store.results()] == [1]
    other.close()


def test_a_lock_held_too_long_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(store_module, "BUSY_SECONDS", 0.2)
    store = Store(tmp_path / "r.db")
    other = sqlite3.connect(tmp_path / "r.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(StoreError, match="locked by another writer"):
        store.add(_row("q1"), [SAMPLE])
    other.execute("ROLLBACK")
    other.close()


WRITER = [str(Path(__file__).parents[1] / "helpers" / "slow_sweep.py")]  # + STORE 40 0.01


def test_two_benches_write_one_new_store_at_once(tmp_path):
    db = str(tmp_path / "shared.db")
    writers = [
        subprocess.Popen(
            [sys.executable, *WRITER, db, "40", "0.01"], stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    errors = [w.communicate(timeout=120)[1] for w in writers]
    assert [w.returncode for w in writers] == [0, 0], errors
    rows = Store(db).results()
    assert sorted(r["question_id"] for r in rows) == sorted(f"toy/{i}" for i in range(40))
    assert all(len(Store(db).samples(r["id"])) == 4 for r in rows)


class _LockedAtFirst:
    """A connection whose switch to WAL answers "locked" at once, as SQLite does while a second
    process opens the same new store; everything else goes to the real connection."""

    def __init__(self, real: sqlite3.Connection, refusals: int) -> None:
        object.__setattr__(self, "_real", real)
        object.__setattr__(self, "refusals", refusals)

    def execute(self, sql: str, *args: object) -> sqlite3.Cursor:
        if sql == "PRAGMA journal_mode=WAL" and self.refusals:
            object.__setattr__(self, "refusals", self.refusals - 1)
            raise sqlite3.OperationalError("database is locked")
        return self._real.execute(sql, *args)

    def __getattr__(self, name: str) -> object:
        return getattr(self._real, name)

    def __setattr__(self, name: str, value: object) -> None:
        setattr(self._real, name, value)


def test_opening_a_new_store_retries_a_wal_switch_refused_at_once(tmp_path, monkeypatch):
    connect = sqlite3.connect
    monkeypatch.setattr(sqlite3, "connect", lambda *a, **k: _LockedAtFirst(connect(*a, **k), 3))
    store = Store(tmp_path / "r.db")  # before: the first refusal failed the open
    store.add(_row("q1"), [SAMPLE])
    assert len(store.results()) == 1


def test_a_failed_open_leaves_a_store_another_process_made(tmp_path, monkeypatch):
    # the other process creates the file after this one looked for it and before it connects
    path = tmp_path / "r.db"
    connect = sqlite3.connect

    made = []

    def other_process_first(*args, **kwargs):  # type: ignore[no-untyped-def]
        if not made:
            made.append(True)
            Store(path).add(_row("theirs"), [SAMPLE])
        return connect(*args, **kwargs)

    opened = Store._open

    def broken(self):  # type: ignore[no-untyped-def]
        if len(made) == 1:  # the other process's open, inside this one's connect
            made.append(True)
            return opened(self)
        raise sqlite3.OperationalError("disk I/O error")

    looked = os.path.exists
    monkeypatch.setattr(Path, "exists", lambda self: self != path and looked(self))
    monkeypatch.setattr(sqlite3, "connect", other_process_first)
    monkeypatch.setattr(Store, "_open", broken)
    with pytest.raises(StoreError):
        Store(path)
    monkeypatch.undo()
    assert [r["question_id"] for r in Store(path).results()] == ["theirs"]
