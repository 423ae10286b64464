"""One registry for every pluggable kind: strategies, backends, verifiers, tasks.

Built-ins and plugins register the same way, with the registry's `register(name)` decorator in
the module that defines them. A registry knows which module holds each built-in and imports it
on first use (engines load lazily); third-party packages add entries through the Python
entry-point group `thinktime.plugins`, whose modules are imported once, the first time any
registry is read (simonw/llm's plugin model):

    # pyproject.toml of a plugin package
    [project.entry-points."thinktime.plugins"]
    my_strategy = "my_package.thinktime_plugin"   # imports thinktime, calls register_strategy

A registry reads like a dict of name → entry:

    >>> shapes = Registry("shape", {})
    >>> @shapes.register("square")
    ... def square(side: float) -> float:
    ...     return side * side
    >>> shapes["square"](3), "square" in shapes, list(shapes)
    (9, True, ['square'])
    >>> shapes.get_or_fail("circle")
    Traceback (most recent call last):
    thinktime.errors.ThinktimeError: unknown shape 'circle'; choose one of: square

A built-in that was renamed keeps its old name in `renamed` (old → new), only to say so when
someone still uses it; the old name never works as the new one:

    >>> boxes = Registry("shape", {}, renamed={"box": "square"})
    >>> _ = boxes.register("square")(square)
    >>> "box" in boxes, boxes.unknown("box")
    (False, "unknown shape 'box' (now called 'square'); choose one of: square")
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from importlib.metadata import entry_points
from types import MappingProxyType
from typing import Generic, TypeVar

from thinktime.errors import ThinktimeError

T = TypeVar("T")
PLUGIN_GROUP = "thinktime.plugins"
_plugins = {"loaded": False}
_lock = threading.RLock()


def load_plugins() -> None:
    """Import every module of the `thinktime.plugins` entry-point group, once per process."""
    with _lock:
        if _plugins["loaded"]:
            return
        _plugins["loaded"] = True
        for point in entry_points(group=PLUGIN_GROUP):
            try:
                point.load()
            except Exception as exc:
                raise ThinktimeError(
                    f"thinktime plugin {point.name!r} ({point.value}) failed to load: {exc}; "
                    "fix or uninstall that package"
                ) from None


class Registry(MutableMapping[str, T], Generic[T]):
    """Name → entry, with built-ins imported lazily from `builtins` (name → module)."""

    def __init__(
        self, kind: str, builtins: Mapping[str, str], renamed: Mapping[str, str] | None = None
    ) -> None:
        self.kind = kind
        self._builtins = dict(builtins)
        self._renamed = dict(renamed or {})  # a built-in's old name → its name now
        self._entries: dict[str, T] = {}

    @property
    def builtins(self) -> Mapping[str, str]:
        """Each built-in's name → the module that registers it (read-only)."""
        return MappingProxyType(self._builtins)

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: make `entry` available as `name` (built-ins and plugins alike)."""

        def add(entry: T) -> T:
            self._entries[name] = entry
            return entry

        return add

    def _load(self, name: str | None = None) -> None:
        """Import the built-in module for `name` (every built-in when None), then plugins."""
        modules = [self._builtins[name]] if name in self._builtins else []
        if name is None:
            modules = list(self._builtins.values())
        for module in dict.fromkeys(modules):
            importlib.import_module(module)
        load_plugins()

    def get_or_fail(self, name: str) -> T:
        """The entry for `name`, or a one-line error listing the valid names."""
        if name not in self:
            raise ThinktimeError(self.unknown(name))
        return self[name]

    def unknown(self, name: str) -> str:
        """The message for a name not registered: the valid names, and the name now used when
        `name` is a built-in's old name."""
        now = f" (now called {self._renamed[name]!r})" if name in self._renamed else ""
        return f"unknown {self.kind} {name!r}{now}; choose one of: {', '.join(self)}"

    def __getitem__(self, name: str) -> T:
        if name not in self._entries:
            self._load(name)
        return self._entries[name]

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str) and name not in self._entries:
            self._load(name)
        return name in self._entries

    def __setitem__(self, name: str, entry: T) -> None:
        self._entries[name] = entry

    def __delitem__(self, name: str) -> None:
        del self._entries[name]

    def __iter__(self) -> Iterator[str]:
        """Built-ins in their declared order, then plugins in registration order."""
        self._load()
        ordered = [n for n in self._builtins if n in self._entries]
        return iter([*ordered, *(n for n in self._entries if n not in self._builtins)])

    def __len__(self) -> int:
        self._load()
        return len(self._entries)
