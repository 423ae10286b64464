"""A memory cgroup per sandboxed run: everything the run makes the kernel hold, counted and capped.

rlimits bound each process's address space, and the run's tmpfs has a size; neither counts what
the kernel allocates for the run — inodes and dentries of a million empty files, extended
attributes, page cache, socket buffers. A memory cgroup does: the kernel charges those objects
to the cgroup of the task that made them, and past the cap the run's allocations fail or the
run is OOM-killed inside its own group, while the host stays untouched.

Where the group is made:
- `THINKTIME_CGROUP` names a directory the operator delegated to the service (systemd's
  `Delegate=yes`, or a folder `chown`ed to the service user): each run gets a child of it;
- cgroup v2 (`/sys/fs/cgroup/cgroup.controllers`): a sibling of the service's own group
  (its parent has the memory controller on and holds no processes, so children may be made
  there; under systemd that is a slice the user owns), or a child of the root;
- cgroup v1 (`/sys/fs/cgroup/memory`): a child of the service's own memory group (v1 counts
  kernel memory in `memory.usage_in_bytes` and caps it with `memory.limit_in_bytes`).

Where none can be made `unavailable()` says why in one line, and `run_python` refuses.

    >>> _v1_path("4:memory:/process_api/abc\\n0::/\\n")
    '/process_api/abc'
    >>> _v2_path("0::/user.slice/app.scope\\n")
    '/user.slice/app.scope'
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import time
from pathlib import Path

ROOT = Path("/sys/fs/cgroup")
_NAMES = itertools.count()


class Cgroup:
    """One run's group: made with its caps by `create`, joined by the child before exec, and
    removed by `remove` once every task in it has exited."""

    def __init__(self, path: Path, version: int) -> None:
        self.path, self.version = path, version

    @classmethod
    def create(cls, memory_bytes: int, tasks: int) -> Cgroup:
        """A new group under the parent `_parent()` found, capped at `memory_bytes` (kernel
        objects included, no swap) and `tasks` processes where the pids controller is on."""
        parent, version = _parent()
        path = parent / f"thinktime-sandbox-{os.getpid()}-{next(_NAMES)}"
        path.mkdir(mode=0o755)
        group = cls(path, version)
        try:
            if version == 2:
                group._write("memory.max", memory_bytes)
                group._write("memory.swap.max", 0, optional=True)
                group._write("pids.max", tasks, optional=True)
            else:
                group._write("memory.limit_in_bytes", memory_bytes)
                group._write("memory.memsw.limit_in_bytes", memory_bytes, optional=True)
        except OSError:
            group.remove()
            raise
        return group

    def _write(self, name: str, value: int, optional: bool = False) -> None:
        try:
            (self.path / name).write_text(f"{value}\n")
        except OSError:  # a file this kernel lacks (no swap accounting, no pids controller)
            if not optional:
                raise

    def join(self) -> None:
        """Move the calling process into the group. Runs in the child between fork and exec:
        one `open` and `write`, nothing that allocates a lock."""
        fd = os.open(self.path / "cgroup.procs", os.O_WRONLY)
        try:
            os.write(fd, b"0\n")
        finally:
            os.close(fd)

    def remove(self, seconds: float = 2.0) -> None:
        """Delete the group; a task still being reaped keeps it busy for a moment."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                self.path.rmdir()
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    return  # left for the operator: an empty group costs a few KiB
                time.sleep(0.02)


def _v1_path(text: str) -> str | None:
    for line in text.splitlines():
        _, controllers, path = line.split(":", 2)
        if "memory" in controllers.split(","):
            return path
    return None


def _v2_path(text: str) -> str | None:
    for line in text.splitlines():
        if line.startswith("0::"):
            return line[3:]
    return None


def _parent() -> tuple[Path, int]:
    """Where this process may make run groups, and the cgroup version; OSError if nowhere."""
    own = Path("/proc/self/cgroup").read_text()
    delegated = os.environ.get("THINKTIME_CGROUP")
    if delegated:
        path = Path(delegated)
        version = 2 if (path / "cgroup.controllers").exists() else 1
        return _checked(path, version)
    if (ROOT / "cgroup.controllers").exists():  # the unified hierarchy (v2) alone
        mine = ROOT / (_v2_path(own) or "/").lstrip("/")
        parent = mine if mine == ROOT else mine.parent
        return _checked(parent, 2)
    if (ROOT / "memory" / "memory.limit_in_bytes").exists():
        mine = ROOT / "memory" / (_v1_path(own) or "/").lstrip("/")
        return _checked(mine, 1)
    raise OSError("no memory cgroup controller is mounted under /sys/fs/cgroup")


def _checked(path: Path, version: int) -> tuple[Path, int]:
    if version == 2:
        try:
            enabled = (path / "cgroup.subtree_control").read_text().split()
        except OSError as exc:
            raise OSError(f"cannot read {path}/cgroup.subtree_control: {exc.strerror}") from None
        if "memory" not in enabled:
            raise OSError(f"the memory controller is not enabled for children of {path}")
    if not os.access(path, os.W_OK):
        raise OSError(f"cannot create cgroups in {path} as uid {os.getuid()}")
    return path, version


@functools.cache
def unavailable() -> str | None:
    """Why no run group can be made here, or None when one can (probed once, by making one)."""
    try:
        group = Cgroup.create(64 * 2**20, 4)
    except OSError as exc:
        reason = f"{exc.strerror}: {exc.filename}" if exc.filename else str(exc)
        return (
            f"cannot bound the sandbox's memory with a cgroup ({reason}); run the service as "
            "root or give it a delegated cgroup in THINKTIME_CGROUP"
        )
    with contextlib.suppress(OSError):
        group.remove()
    return None
