"""The results store: SQLite in WAL mode, schema by numbered migrations, one row per sample.

A result (one question × model × strategy config) and its samples are written in one
transaction as soon as it completes, so a run killed with SIGKILL loses only the work in
flight; re-running skips every (task, question, model, config) already stored.

    >>> store = Store(":memory:")
    >>> store.done("gsm8k", "qwen", "cot")
    set()
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIGRATIONS: list[str] = [
    # 1: results and their samples
    """
    CREATE TABLE results (
        id INTEGER PRIMARY KEY,
        task TEXT NOT NULL, question_id TEXT NOT NULL, model TEXT NOT NULL, config TEXT NOT NULL,
        strategy TEXT NOT NULL, params TEXT NOT NULL, gold TEXT, answer TEXT, verdict TEXT NOT NULL,
        prompt_tokens INTEGER, completion_tokens INTEGER, reasoning_tokens INTEGER,
        verifier_tokens INTEGER, flops REAL, seconds REAL, created TEXT DEFAULT CURRENT_TIMESTAMP,
        UNIQUE (task, question_id, model, config)
    );
    CREATE TABLE samples (
        result_id INTEGER NOT NULL REFERENCES results(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL, text TEXT, answer TEXT, verdict TEXT NOT NULL, finish_reason TEXT,
        completion_tokens INTEGER, score REAL,
        PRIMARY KEY (result_id, idx)
    );
    """,
    # 2: engine-side seconds, to measure orchestration overhead
    "ALTER TABLE results ADD COLUMN engine_seconds REAL;",
]


@dataclass(frozen=True)
class SampleRow:
    text: str
    answer: str | None
    verdict: str
    finish_reason: str
    completion_tokens: int
    score: float | None = None


class Store:
    """Thread-safe writes; reads return plain dicts."""

    def __init__(self, path: str | Path) -> None:
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.row_factory = sqlite3.Row
        self._lock = threading.Lock()
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self._lock:
                self._db.executescript(f"BEGIN; {script} PRAGMA user_version = {number}; COMMIT;")

    @property
    def version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def done(self, task: str, model: str, config: str) -> set[str]:
        rows = self._db.execute(
            "SELECT question_id FROM results WHERE task=? AND model=? AND config=?",
            (task, model, config),
        )
        return {r[0] for r in rows}

    def add(self, result: dict[str, Any], samples: Iterable[SampleRow]) -> None:
        """Store one result and its samples atomically."""
        columns = list(result)
        values = [json.dumps(v) if isinstance(v, dict) else v for v in result.values()]
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cursor = self._db.execute(
                    f"INSERT INTO results ({', '.join(columns)}) "
                    f"VALUES ({', '.join('?' * len(columns))})",
                    values,
                )
                self._db.executemany(
                    "INSERT INTO samples VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            cursor.lastrowid,
                            i,
                            s.text,
                            s.answer,
                            s.verdict,
                            s.finish_reason,
                            s.completion_tokens,
                            s.score,
                        )
                        for i, s in enumerate(samples)
                    ],
                )
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def results(self, task: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT * FROM results" + (" WHERE task=?" if task else "") + " ORDER BY id"
        return [dict(r) for r in self._db.execute(query, (task,) if task else ())]

    def samples(self, result_id: int) -> list[dict[str, Any]]:
        rows = self._db.execute(
            "SELECT * FROM samples WHERE result_id=? ORDER BY idx", (result_id,)
        )
        return [dict(r) for r in rows]

    def close(self) -> None:
        self._db.close()
