"""Run untrusted model-written Python in a separate, locked-down process.

Layers, each stopping a different escape:
1. a separate process in its own session, killed (whole process group) at a wall-clock timeout;
2. resource limits: CPU seconds, address space (memory), file size, open files, processes;
3. when running as root, the child drops to user `nobody` (after loading the standard modules
   arithmetic programs use) so the process limit is enforced and the file system is read-only;
4. a Python audit hook, installed before the program runs and impossible to remove from Python,
   that refuses sockets, subprocesses, fork/exec, ctypes, and any file write, delete or rename
   outside the throw-away working directory;
5. `python -I -S`: isolated mode, no site-packages, no user environment; an empty environment.
It is a defence in depth for model-written arithmetic programs, not a VM: run hostile code in a
container or VM.

    >>> run_python("print(6 * 7)").stdout
    '42\\n'
    >>> run_python("import socket; socket.socket()").blocked
    True
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

# The hook runs first in the child; the user program is exec'd after it under the same hook.
_PRELUDE = r"""
import sys, os
# what arithmetic programs import, loaded while the interpreter's files are still readable
import math, cmath, fractions, decimal, itertools, functools, statistics, collections, re
import datetime, random, string, heapq, bisect, operator, pathlib, json, numbers, typing, copy, time
import dataclasses, textwrap, array, struct, calendar
_source = open("program.py").read()
if os.getuid() == 0:  # root ignores RLIMIT_NPROC and may write anywhere: become nobody
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)
_ROOT = os.path.realpath(os.getcwd())
_DENY = {"socket.__new__", "socket.connect", "socket.bind", "socket.getaddrinfo",
         "subprocess.Popen", "os.system", "os.fork", "os.forkpty", "os.exec", "os.posix_spawn",
         "os.spawn", "os.kill", "os.killpg", "ctypes.dlopen", "ctypes.dlsym", "ctypes.cdata",
         "os.chmod", "os.chown", "os.link", "os.symlink", "os.truncate", "shutil.rmtree"}
_MODULES = {"socket", "_socket", "ssl", "subprocess", "_posixsubprocess", "ctypes", "_ctypes",
            "multiprocessing", "_multiprocessing", "asyncio", "http", "urllib", "ftplib", "smtplib",
            "pty", "signal", "mmap"}
_PATHS = {"os.remove", "os.rmdir", "os.mkdir", "os.rename", "os.utime"}
def _inside(path):
    try:
        path = os.fsdecode(path) if not isinstance(path, int) else None
    except Exception:
        return False
    return path is None or os.path.realpath(path).startswith(_ROOT + os.sep)
def _hook(event, args):
    if event in _DENY:
        raise PermissionError(f"sandbox: {event} is not allowed")
    if event == "import" and args and str(args[0]).split(".")[0] in _MODULES:
        raise PermissionError(f"sandbox: import {args[0]} is not allowed")
    if event == "open" and args:
        path, mode = args[0], args[1] if len(args) > 1 else "r"
        flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
        writing = isinstance(mode, str) and any(c in mode for c in "wax+")
        _write = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
        writing = writing or bool(flags & _write)
        if writing and not _inside(path):
            raise PermissionError(f"sandbox: writing {path!r} outside the working directory")
    _paths = [a for a in args[:2] if isinstance(a, (str, bytes))]
    if event in _PATHS and not all(_inside(a) for a in _paths):
        raise PermissionError(f"sandbox: {event} outside the working directory")
sys.addaudithook(_hook)
del _hook
exec(compile(_source, "program.py", "exec"), {"__name__": "__main__"})
"""


@dataclass(frozen=True)
class SandboxResult:
    stdout: str
    stderr: str
    returncode: int | None
    timed_out: bool

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out

    @property
    def blocked(self) -> bool:
        """True when the sandbox refused something the program tried."""
        return "sandbox:" in self.stderr

    @property
    def reason(self) -> str:
        if self.timed_out:
            return "timed out"
        if self.blocked:
            return self.stderr.strip().splitlines()[-1]
        if self.returncode and self.returncode < 0:
            return f"killed by signal {signal.Signals(-self.returncode).name}"
        if self.returncode:
            return (self.stderr.strip().splitlines() or ["failed"])[-1]
        return "ok"


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int = 5
    memory_bytes: int = 512 * 2**20
    file_bytes: int = 1 * 2**20
    open_files: int = 32
    processes: int = 16
    wall_seconds: float = 10.0


def _limit(limits: Limits) -> None:
    """Runs in the child between fork and exec."""
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_python(code: str, limits: Limits | None = None, stdin: str = "") -> SandboxResult:
    """Run `code` under the sandbox (see module docstring) and return what it printed."""
    limits = limits or Limits()
    with tempfile.TemporaryDirectory(prefix="thinktime-sandbox-") as workdir:
        Path(workdir, "program.py").write_text(code)
        os.chmod(workdir, 0o777)  # writable by `nobody` once privileges are dropped
        process = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _PRELUDE],
            cwd=workdir,
            env={"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            preexec_fn=lambda: _limit(limits),
        )
        try:
            out, err = process.communicate(stdin, timeout=limits.wall_seconds)
            return SandboxResult(out[-10_000:], err[-10_000:], process.returncode, False)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            out, err = process.communicate()
            return SandboxResult(out[-10_000:], err[-10_000:], None, True)
