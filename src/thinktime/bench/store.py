"""The results store: SQLite in WAL mode, schema by numbered migrations, one row per sample.

A result (one question × model × strategy config) and its samples are written in one
transaction as soon as it completes, so a run killed with SIGKILL loses only the work in
flight; re-running skips every (task, question, model, config) already stored — unless the
question's text or gold answer has changed since (`forget_changed`): its old verdicts are
dropped and it is asked again.

    >>> store = Store(":memory:")
    >>> store.done("gsm8k", "qwen", "cot")
    set()
    >>> store.add({"task": "t", "question_id": "q0", "model": "m", "config": "cot",
    ...            "strategy": "cot", "params": "", "gold": "42", "verdict": "correct",
    ...            "question_hash": "6x7"}, [])
    >>> store.forget_changed("t", {"q0": ("6x8", "48")}), store.done("t", "m", "cot")
    (['q0'], set())
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path
from typing import Any

from thinktime.answers.confidence import TraceConfidence, pack
from thinktime.errors import ThinktimeError
from thinktime.strategies.tree import TreeNode

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
    # 3: an agent's steps (tool-using tasks): each step's candidate actions, vote, calls and bill
    """
    CREATE TABLE steps (
        result_id INTEGER NOT NULL REFERENCES results(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL, actions TEXT NOT NULL, votes TEXT NOT NULL, action TEXT,
        changed INTEGER NOT NULL, calls TEXT NOT NULL, outputs TEXT NOT NULL, text TEXT,
        prompt_tokens INTEGER, completion_tokens INTEGER, samples INTEGER,
        PRIMARY KEY (result_id, idx)
    );
    """,
    # 4: each sample's answer beside its result id, so a run's agreement (samples whose answer
    # is the chosen one) is counted from the index alone, not by reading every sample's text
    "CREATE INDEX samples_answers ON samples (result_id, answer);",
    # 5: how sure the model was of each sample (DeepConf / self-certainty summaries), and each
    # token's confidence as float32 bytes, so a pool can be replayed under any window or rule
    """
    ALTER TABLE samples ADD COLUMN conf_mean REAL;
    ALTER TABLE samples ADD COLUMN conf_lowest_group REAL;
    ALTER TABLE samples ADD COLUMN conf_bottom10 REAL;
    ALTER TABLE samples ADD COLUMN conf_tail REAL;
    ALTER TABLE samples ADD COLUMN self_certainty REAL;
    ALTER TABLE samples ADD COLUMN token_confidences BLOB;
    """,
    # 6: the question as it was asked and a fingerprint of its text and gold answer, so a result
    # whose question has since changed in its file is known, dropped and asked again
    """
    ALTER TABLE results ADD COLUMN question TEXT;
    ALTER TABLE results ADD COLUMN question_hash TEXT;
    """,
    # 7: a step search's tree (beam search, DVTS, particle filtering, MCTS): every step drawn,
    # its parent (NULL: a first step), depth, text and score, whether it survived its step
    # (`kept`) and is on the answer's path (`chosen`), and the strategy's own facts as JSON
    """
    CREATE TABLE tree_nodes (
        result_id INTEGER NOT NULL REFERENCES results(id) ON DELETE CASCADE,
        node INTEGER NOT NULL, parent INTEGER, step INTEGER NOT NULL, text TEXT NOT NULL,
        score REAL, kept INTEGER NOT NULL, chosen INTEGER NOT NULL, facts TEXT NOT NULL,
        PRIMARY KEY (result_id, node)
    );
    """,
    # 8: the validated call each result ran, as JSON (`thinktime.call.Call.record`: the typed
    # params, every sampling field, the verifier), beside the config text, so a report reads the
    # params back as they were validated instead of parsing the text again; NULL for a result
    # stored before (its config text is parsed once, as before)
    "ALTER TABLE results ADD COLUMN call TEXT;",
]
TREE_COLUMNS = ("result_id", "node", "parent", "step", "text", "score", "kept", "chosen", "facts")
SAMPLE_COLUMNS = (
    "result_id", "idx", "text", "answer", "verdict", "finish_reason", "completion_tokens", "score",
    "conf_mean", "conf_lowest_group", "conf_bottom10", "conf_tail", "self_certainty",
    "token_confidences",
)  # fmt: skip


BUSY_SECONDS = 30.0  # a second writer waits this long for the lock before it gives up
SQLITE_HEADER = b"SQLite format 3\x00"


class StoreError(ThinktimeError):
    """A results store that cannot be opened or written: the message says why and what to do."""


@dataclass(frozen=True)
class SampleRow:
    text: str
    answer: str | None
    verdict: str
    finish_reason: str
    completion_tokens: int
    score: float | None = None
    confidence: TraceConfidence | None = None  # when the engine gave top-k logprobs

    def values(self) -> tuple[Any, ...]:
        """Its columns after (result_id, idx), in `SAMPLE_COLUMNS` order."""
        c = self.confidence
        confidences = (
            (c.mean, c.lowest_group, c.bottom10, c.tail, c.self_certainty, pack(c.per_token))
            if c is not None
            else (None,) * 6
        )
        return (self.text, self.answer, self.verdict, self.finish_reason,
                self.completion_tokens, self.score, *confidences)  # fmt: skip


@dataclass(frozen=True)
class StepRow:
    """One step of an agent's run: JSON text for the lists and the vote table."""

    actions: str
    votes: str
    action: str | None
    changed: bool
    calls: str
    outputs: str
    text: str
    prompt_tokens: int
    completion_tokens: int
    samples: int


class Store:
    """Thread-safe writes; reads return plain dicts (a tree: its `TreeNode`s).

    Opening checks the file before anything is written: a folder, a file that is not SQLite, a
    SQLite file that is not a store, a newer schema or an unwritable place is a `StoreError`,
    and a failed open leaves no file or folder behind. `create=False` refuses a missing file;
    `readonly=True` (for viewers) opens an existing store through a read-only connection that
    neither migrates nor writes anything.
    """

    def __init__(self, path: str | Path, *, create: bool = True, readonly: bool = False) -> None:
        self.path = str(path)
        self.readonly = readonly
        self._lock = threading.Lock()
        target = Path(path)
        memory = self.path == ":memory:"
        folders = [] if memory else _check_path(target, create and not readonly)
        existed = True
        try:
            for folder in folders:
                folder.mkdir()
            if not memory and not readonly:
                # create the file exclusively: of two processes opening one new store at once,
                # only the one that made it may remove it after a failed open (the other's
                # cleanup would delete a store in use, failing both with a disk I/O error)
                existed = not _create_exclusively(target)
            self._db = sqlite3.connect(
                _readonly_uri(target) if readonly else self.path,
                timeout=BUSY_SECONDS, check_same_thread=False, isolation_level=None,
                uri=readonly,
            )  # fmt: skip
            try:
                self._open()
            except BaseException:
                self._db.close()
                raise
        except (OSError, sqlite3.Error, StoreError) as exc:
            if not existed and not _holds_a_store(self.path):  # leave nothing half-made behind
                for suffix in ("", "-wal", "-shm", "-journal"):
                    Path(self.path + suffix).unlink(missing_ok=True)
            for folder in reversed(folders):
                with contextlib.suppress(OSError):
                    folder.rmdir()
            if isinstance(exc, StoreError):
                raise
            raise StoreError(_explain(self.path, exc)) from exc

    def _open(self) -> None:
        # one statement, one snapshot: nothing is written before the file is known to be ours
        version, objects = self._db.execute(
            "SELECT (SELECT user_version FROM pragma_user_version), "
            "(SELECT count(*) FROM sqlite_master)"
        ).fetchone()
        self._check(version, objects)
        self._db.row_factory = sqlite3.Row
        if self.readonly:
            return  # an older schema reads fine: its missing columns are absent from rows
        self._use_wal()
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        if version < len(MIGRATIONS):
            self._migrate()

    def _use_wal(self) -> None:
        # Switching a new file to WAL needs it alone, and SQLite answers "locked" at once rather
        # than calling the busy handler when a second process opens the same new store: retry
        # until BUSY_SECONDS. A file already in WAL mode (every store after its first open)
        # needs no switch.
        deadline = time.monotonic() + BUSY_SECONDS
        while True:
            try:
                self._db.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _check(self, version: int, objects: int) -> None:
        if version > len(MIGRATIONS):
            raise StoreError(
                f"store {self.path} has schema version {version}; this thinktime understands up "
                f"to {len(MIGRATIONS)}; upgrade thinktime"
            )
        if version == 0 and objects:
            raise StoreError(
                f"{self.path} is an SQLite file but not a thinktime results store; "
                "pass another path"
            )

    def _migrate(self) -> None:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # a second process opening it at once waits here
            try:
                version, objects = self._db.execute(
                    "SELECT (SELECT user_version FROM pragma_user_version), "
                    "(SELECT count(*) FROM sqlite_master)"
                ).fetchone()
                self._check(version, objects)  # it may have migrated the file meanwhile
                for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                    for statement in _statements(script):
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {number}")
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    @property
    def version(self) -> int:
        return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    def done(self, task: str, model: str, config: str) -> set[str]:
        rows = self._db.execute(
            "SELECT question_id FROM results WHERE task=? AND model=? AND config=?",
            (task, model, config),
        )
        return {r[0] for r in rows}

    def forget_changed(self, task: str, current: Mapping[str, tuple[str, str]]) -> list[str]:
        """Drop every stored result (all models and configs) of a question whose text or gold
        has changed; `current` maps question id → (fingerprint, gold). Returns the ids dropped.
        A row stored before fingerprints (schema 5 and older) is judged by its gold alone."""
        rows = self._db.execute(
            "SELECT id, question_id, question_hash, gold FROM results WHERE task=?", (task,)
        ).fetchall()
        stale = [
            (row[0], row[1]) for row in rows if row[1] in current
            and (row[2] != current[row[1]][0] if row[2] is not None
                 else row[3] != current[row[1]][1])
        ]  # fmt: skip
        if stale and not self.readonly:
            with self._lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany("DELETE FROM results WHERE id=?", [(i,) for i, _ in stale])
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
        return sorted({question for _, question in stale})

    def add(
        self,
        result: dict[str, Any],
        samples: Iterable[SampleRow],
        steps: Iterable[StepRow] = (),
        tree: Iterable[TreeNode] = (),
    ) -> None:
        """Store one result, its samples, (an agent's) steps and (a step search's) tree
        atomically; one another writer stored first stays."""
        columns = list(result)
        values = [json.dumps(v) if isinstance(v, dict) else v for v in result.values()]
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")  # waits up to BUSY_SECONDS for the lock
            except sqlite3.Error as exc:
                raise StoreError(_explain(self.path, exc)) from exc
            try:
                cursor = self._db.execute(
                    f"INSERT INTO results ({', '.join(columns)}) "
                    f"VALUES ({', '.join('?' * len(columns))}) ON CONFLICT DO NOTHING",
                    values,
                )
                rows = [
                    (cursor.lastrowid, i, *s.values()) for i, s in enumerate(samples)
                ] if cursor.rowcount else []  # fmt: skip
                self._db.executemany(
                    f"INSERT INTO samples ({', '.join(SAMPLE_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(SAMPLE_COLUMNS))})",
                    rows,
                )
                steps_rows = [
                    (cursor.lastrowid, i, *astuple(step)) for i, step in enumerate(steps)
                ] if cursor.rowcount else []  # fmt: skip
                self._db.executemany(
                    f"INSERT INTO steps VALUES ({', '.join('?' * 12)})", steps_rows
                )
                nodes = [
                    (cursor.lastrowid, n.id, n.parent, n.step, n.text, n.score, n.kept,
                     n.chosen, json.dumps(n.facts, default=str))
                    for n in tree
                ] if cursor.rowcount else []  # fmt: skip
                self._db.executemany(
                    f"INSERT INTO tree_nodes ({', '.join(TREE_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * len(TREE_COLUMNS))})",
                    nodes,
                )
                self._db.execute("COMMIT")
            except BaseException as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                if isinstance(exc, sqlite3.OperationalError):
                    raise StoreError(_explain(self.path, exc)) from exc
                raise

    def results(self, task: str | None = None) -> list[dict[str, Any]]:
        query = "SELECT * FROM results" + (" WHERE task=?" if task else "") + " ORDER BY id"
        return [dict(r) for r in self._db.execute(query, (task,) if task else ())]

    def steps(self, result_id: int) -> list[dict[str, Any]]:
        """An agent's steps of one result, in order (none for a result that is not an agent's)."""
        rows = self._db.execute("SELECT * FROM steps WHERE result_id=? ORDER BY idx", (result_id,))
        return [dict(r) for r in rows]

    def tree(self, result_id: int) -> list[TreeNode]:
        """A step search's tree of one result, its nodes in the order drawn (none for other
        strategies, and in a store read-only at schema 6 or older, which kept no trees)."""
        try:
            rows = self._db.execute(
                "SELECT * FROM tree_nodes WHERE result_id=? ORDER BY node", (result_id,)
            ).fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise
        return [
            TreeNode(r["node"], r["parent"], r["step"], r["text"], r["score"], bool(r["kept"]),
                     bool(r["chosen"]), json.loads(r["facts"]))
            for r in rows
        ]  # fmt: skip

    def samples(self, result_id: int, confidences: bool = False) -> list[dict[str, Any]]:
        """One result's samples in drawn order; each token's confidence (bytes) only when asked
        (`confidences`, for replays), the summaries always."""
        rows = [
            dict(r)
            for r in self._db.execute(
                "SELECT * FROM samples WHERE result_id=? ORDER BY idx", (result_id,)
            )
        ]
        for row in rows if not confidences else ():
            row.pop("token_confidences", None)
        return rows

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Rows of a read query (readers with their own aggregates: the viewer)."""
        return [dict(r) for r in self._db.execute(sql, params)]

    def close(self) -> None:
        self._db.close()


def _readonly_uri(path: Path) -> str:
    """A read-only SQLite URI; with no `-wal` file beside it (no writer connected) the file is
    opened `immutable`, so reading it leaves no `-wal`/`-shm` files behind either."""
    quiet = not Path(f"{path}-wal").exists()
    return f"{path.absolute().as_uri()}?mode=ro" + ("&immutable=1" if quiet else "")


def _holds_a_store(path: str) -> bool:
    """Whether another process has made a store in the file this one created (it opened the
    file between this one's creation and its failure): then it is theirs, not ours to remove."""
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=1.0)) as db:
            return bool(db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])
    except sqlite3.Error:
        return False


def _create_exclusively(path: Path) -> bool:
    """Make an empty file at `path` unless one exists; whether this call made it."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
    except FileExistsError:
        return False
    return True


def _check_path(path: Path, create: bool) -> list[Path]:
    """Refuse a path that cannot hold a store before touching the disk; the folders to make."""
    if path.is_dir():
        raise StoreError(
            f"store {path} is a folder, not a results file; pass a file path such as "
            f"{path / 'results.db'}"
        )
    if path.exists():
        try:
            with path.open("rb") as file:
                header = file.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise StoreError(
                f"cannot read store {path}: {exc.strerror}; check its permissions"
            ) from exc
        if not path.is_file() or (header and header != SQLITE_HEADER):
            raise StoreError(
                f"{path} is not a thinktime results store (not an SQLite file); "
                "pass another path or move the file away"
            )
        if not header and not create:
            raise StoreError(f"store {path} is empty; run `thinktime bench` first")
        return []
    if not create:
        raise StoreError(f"results file not found: {path}; run `thinktime bench` first")
    missing, parent = [], path.absolute().parent
    while not parent.exists() and not parent.is_symlink():
        missing.append(parent)
        parent = parent.parent
    if not parent.is_dir():
        raise StoreError(
            f"cannot create store {path}: {parent} is a file, not a folder; "
            "pass a store path inside a folder"
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise StoreError(
            f"cannot create store {path}: folder {parent} is not writable; "
            "pass a store path in a writable folder"
        )
    return missing[::-1]


def _explain(path: str, exc: OSError | sqlite3.Error) -> str:
    """One line for a store that failed to open: what went wrong, what to do."""
    reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    if "locked" in reason or "busy" in reason:
        return (
            f"store {path} stayed locked by another writer for {BUSY_SECONDS:.0f} s; "
            "wait for it to finish or pass another store path"
        )
    if isinstance(exc, sqlite3.DatabaseError) and not isinstance(exc, sqlite3.OperationalError):
        return f"store {path} is corrupt or not a results store ({reason}); pass another path"
    return f"cannot open store {path} ({reason}); check that it and its folder are writable"


def _statements(script: str) -> list[str]:
    """A migration script split into its statements (triggers' inner `;` kept together)."""
    statements, buffer = [], ""
    for piece in script.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \n;"):
                statements.append(buffer)
            buffer = ""
    return statements
