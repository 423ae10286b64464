"""The stores a viewer may read: the files named on the command line, each under a short name,
opened read-only and reopened when the file changes (a sweep still writing to it).

Every route names a store by its short name (the file's stem, made unique), never by a path,
so no request can reach a file that was not named when the viewer started. Work derived from a
store (summaries, question tables) is cached per store *version* — the file's size and mtime
and those of its `-wal` — and dropped when the version changes.

    >>> catalog = Catalog([])
    >>> catalog.names()
    []
    >>> catalog.get("secrets")
    Traceback (most recent call last):
    thinktime.view.catalog.UnknownStore: unknown store 'secrets'; the viewer serves: (none)
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from thinktime.bench.store import Store
from thinktime.errors import ThinktimeError

T = TypeVar("T")


class UnknownStore(ThinktimeError):
    """A store name the viewer was not started with (the route answers 404)."""


def version_of(path: Path) -> tuple[int, ...]:
    """What changes when a store is written: the file's and its WAL's size and mtime."""
    stamp: list[int] = []
    for file in (path, Path(f"{path}-wal")):
        try:
            stat = file.stat()
            stamp += [stat.st_size, stat.st_mtime_ns]
        except OSError:
            stamp += [-1, -1]
    return tuple(stamp)


@dataclass
class Opened:
    """One store as the viewer holds it: the read-only connection and what was derived from it."""

    name: str
    path: Path
    store: Store
    version: tuple[int, ...]
    cache: dict[Any, Any] = field(default_factory=dict)
    locks: defaultdict[Any, threading.Lock] = field(
        default_factory=lambda: defaultdict(threading.Lock)
    )


class Catalog:
    """The named stores; `get` returns a current, read-only `Opened` (reopened after a write)."""

    def __init__(self, paths: Sequence[str | Path]) -> None:
        self._lock = threading.Lock()
        self._paths: dict[str, Path] = {}
        for raw in paths:
            path = Path(raw).resolve()
            name, i = path.stem, 2
            while name in self._paths:  # runs/gsm8k.db and docs/gsm8k.db: gsm8k, gsm8k-2
                name, i = f"{path.stem}-{i}", i + 1
            self._paths[name] = path
        self._open: dict[str, Opened] = {}
        for name in self._paths:  # a bad file fails at start (StoreError), not on a request
            self.get(name)

    def names(self) -> list[str]:
        return list(self._paths)

    def get(self, name: str) -> Opened:
        if name not in self._paths:
            raise UnknownStore(
                f"unknown store {name!r}; the viewer serves: {', '.join(self._paths) or '(none)'}"
            )
        path = self._paths[name]
        with self._lock:
            opened = self._open.get(name)
            version = version_of(path)
            if opened is None or opened.version != version:
                if opened is not None:
                    opened.store.close()
                opened = Opened(name, path, Store(path, create=False, readonly=True), version)
                self._open[name] = opened
            return opened

    def cached(self, name: str, key: Any, compute: Callable[[Store], T]) -> T:
        """`compute(store)` once per store version and key."""
        opened = self.get(name)
        with opened.locks[key]:  # two requests for slow work (curves) compute it once
            if key not in opened.cache:
                opened.cache[key] = compute(opened.store)
        result: T = opened.cache[key]
        return result
