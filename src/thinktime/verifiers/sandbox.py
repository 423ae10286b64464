"""Run untrusted model-written Python: the one door, `run_python`.

Layers, outermost first, each stopping what the one inside it cannot:
1. **Kernel isolation** (`isolation.py`): fresh user, mount, pid, net, ipc and uts namespaces
   through bubblewrap; the interpreter and standard library read-only, a private tmpfs as the
   only writable place, no network device but its own loopback, no host process visible, every
   capability dropped, a seccomp filter. Removing the Python-level layers below gains nothing.
2. **A memory cgroup per run** (`cgroup.py`): everything the run makes the kernel hold —
   process memory, its tmpfs's pages, inodes, dentries, page cache — is charged to the run's
   own group and capped at `Limits.memory_bytes`; past it the run, not the host, runs out.
   **Resource limits** on the whole tree: CPU seconds, address space, file size, open files,
   processes; a wall-clock timeout that kills the namespace (and with it every process in it).
3. **Bounded output**: stdout and stderr are read in chunks; past `Limits.output_bytes` the
   program is stopped and its output truncated, so a program cannot grow the caller's memory.
4. A Python audit hook refusing sockets, subprocesses, ctypes and writes outside the working
   directory: a second layer only (Python code can remove it; the kernel layer holds anyway).

The program reaches the sandbox as a descriptor (bwrap copies it in), never as a path on the
host another local user could swap for a symlink. Where namespaces or a memory cgroup are not
available (no bwrap, user namespaces disabled, no cgroup this user may create) `run_python`
refuses with `SandboxUnavailable`, saying why, unless the caller passes `unsafe_exec=True` (the
operator's `--unsafe-exec`, or `THINKTIME_UNSAFE_EXEC=1`, read by the CLI and passed down, never
kept here): then only the layers the host allows apply, and the program file lies in a folder
only the service (and, as root, the `nobody` the program runs as) can enter.

    >>> run_python("print(6 * 7)").stdout
    '42\\n'
    >>> run_python("import socket; socket.socket()").blocked
    True
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import select
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from thinktime.errors import ThinktimeError
from thinktime.verifiers import cgroup
from thinktime.verifiers.isolation import (
    SANDBOX_UID,
    WORKDIR,
    bwrap_command,
    namespaces_unavailable,
    seccomp_filter,
)
from thinktime.verifiers.prelude import PRELUDE


class SandboxUnavailable(ThinktimeError):
    """Kernel isolation is not available and unsafe execution was not allowed."""


@dataclass(frozen=True)
class SandboxResult:
    stdout: str
    stderr: str
    returncode: int | None
    timed_out: bool
    truncated: bool = False
    isolated: bool = True

    @property
    def ok(self) -> bool:
        return self.returncode == 0 and not self.timed_out and not self.truncated

    @property
    def blocked(self) -> bool:
        """True when the sandbox refused something the program tried."""
        return "sandbox:" in self.stderr

    @property
    def reason(self) -> str:
        if self.timed_out:
            return "timed out"
        if self.truncated:
            return "output over the limit: truncated and stopped"
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
    output_bytes: int = 64 * 2**10  # per stream; past it the program is stopped


def _limit(limits: Limits, group: cgroup.Cgroup | None) -> None:
    """Runs in the child between fork and exec; inherited by everything it starts."""
    if group is not None:
        group.join()
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _unavailable() -> str | None:
    """Why the kernel layers cannot run here (namespaces, then the memory cgroup), or None."""
    return namespaces_unavailable() or cgroup.unavailable()


def _command(workdir: Path | None, fds: dict[str, int]) -> list[str]:
    """The argv of one run: through bwrap, or (`workdir` given, unsafe mode) bare."""
    interpreter = os.path.realpath(sys.executable)
    argv = [interpreter, "-I", "-S", "-c", PRELUDE]
    if workdir is None:
        files = {f"{WORKDIR}/program.py": fds["program"]}
        return bwrap_command(argv, files, fds.get("seccomp"), fds.get("info"))
    return [sys.executable, "-I", "-S", "-c", PRELUDE]


def _private_workdir(parent: str, code: str) -> Path:
    """Unsafe mode's working folder, `parent/work`: `parent` is the service's alone (0700), so no
    other local user can reach `program.py`; as root, `work` belongs to `nobody`, whom the
    prelude becomes after reading the program (the prelude needs the folder writable)."""
    work = Path(parent, "work")
    work.mkdir(mode=0o700)
    (work / "program.py").write_bytes(code.encode("utf-8", "replace"))
    if os.getuid() == 0:
        os.chown(work, SANDBOX_UID, SANDBOX_UID)
    return work


def run_python(
    code: str, limits: Limits | None = None, stdin: str = "", *, unsafe_exec: bool = False
) -> SandboxResult:
    """Run `code` under the sandbox (see module docstring) and return what it printed;
    `unsafe_exec` (the operator's opt-in) runs it with process limits alone where the kernel
    layers are missing, instead of refusing."""
    limits = limits or Limits()
    why = _unavailable()
    if why is not None and not unsafe_exec:
        raise SandboxUnavailable(
            f"refusing to run model-written code without kernel isolation: {why}; "
            "or start thinktime with --unsafe-exec to accept process limits alone"
        )
    isolated = namespaces_unavailable() is None
    with contextlib.ExitStack() as cleanup:  # unwound last: the group, then the folder
        workdir = None
        if not isolated:  # mkdtemp makes the folder 0700: the service's alone
            private = cleanup.enter_context(
                tempfile.TemporaryDirectory(prefix="thinktime-sandbox-")
            )
            workdir = _private_workdir(private, code)
        group = None
        if cgroup.unavailable() is None:  # in unsafe mode too, where the host allows one
            group = cgroup.Cgroup.create(limits.memory_bytes, limits.processes)
            cleanup.callback(group.remove)
        rules = seccomp_filter()
        fds: list[int] = []  # every descriptor this call opens, closed on every path
        process: subprocess.Popen[bytes] | None = None
        init = None
        try:
            info_read, info_write = os.pipe()
            fds += [info_read, info_write]
            passed = {"info": info_write}
            if isolated:
                program = os.memfd_create("program.py")  # bwrap copies it into the sandbox
                fds.append(program)
                _write_all(program, code.encode("utf-8", "replace"))
                os.lseek(program, 0, os.SEEK_SET)
                passed["program"] = program
            if rules:
                seccomp_read, seccomp_write = os.pipe()
                fds += [seccomp_read, seccomp_write]
                passed["seccomp"] = seccomp_read
            process = subprocess.Popen(
                _command(workdir, passed),
                cwd=workdir,
                env={"PATH": "/usr/bin:/bin", "PYTHONIOENCODING": "utf-8"},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                pass_fds=tuple(passed.values()) if isolated else (),
                preexec_fn=lambda: _limit(limits, group),
            )
            for fd in passed.values():  # the child holds its copies now
                _close(fds, fd)
            if rules:
                _write_all(seccomp_write, rules)  # bwrap reads the filter before it starts
                _close(fds, seccomp_write)
            if isolated:
                init = _namespace_init(info_read)
            _close(fds, info_read)
            return _collect(process, stdin, limits, isolated)
        finally:
            if process is not None:
                _kill(process)
                for stream in (process.stdin, process.stdout, process.stderr):
                    if stream is not None:
                        stream.close()
            for fd in fds:
                os.close(fd)
            _wait_gone(init)


def _close(fds: list[int], fd: int) -> None:
    fds.remove(fd)
    os.close(fd)


def _write_all(fd: int, data: bytes) -> None:
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    except BrokenPipeError:
        pass  # bwrap died before reading it; its exit status tells why


def _namespace_init(info: int) -> int | None:
    """A pidfd for the pid namespace's init (from bwrap's --info-fd JSON), or None."""
    data = b""
    while chunk := os.read(info, 4096):  # EOF once bwrap has set the sandbox up (or died)
        data += chunk
        if len(data) > 65536:
            break
    try:
        return os.pidfd_open(int(json.loads(data)["child-pid"]))
    except (ValueError, KeyError, OSError):
        return None


def _wait_gone(pidfd: int | None, seconds: float = 10.0) -> None:
    """Block until the namespace's init has exited: the kernel has then killed all in it."""
    if pidfd is None:
        return
    try:
        select.select([pidfd], [], [], seconds)
    finally:
        os.close(pidfd)


def _collect(
    process: subprocess.Popen[bytes], stdin: str, limits: Limits, isolated: bool
) -> SandboxResult:
    """Read both streams in bounded chunks until exit, the wall clock, or the output limit."""
    assert process.stdin and process.stdout and process.stderr
    try:
        process.stdin.write(stdin.encode()[: 1 << 16])
        process.stdin.close()
    except BrokenPipeError:
        pass
    buffers = {process.stdout: bytearray(), process.stderr: bytearray()}
    selector = selectors.DefaultSelector()
    for stream in buffers:
        os.set_blocking(stream.fileno(), False)
        selector.register(stream, selectors.EVENT_READ)
    deadline = time.monotonic() + limits.wall_seconds
    timed_out = truncated = False
    while selector.get_map() and not (timed_out or truncated):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            timed_out = True
            break
        for key, _ in selector.select(timeout=min(remaining, 0.5)):
            chunk = os.read(key.fd, 1 << 16)
            if not chunk:
                selector.unregister(key.fileobj)
                continue
            buffer = buffers[key.fileobj]  # type: ignore[index]
            buffer += chunk[: limits.output_bytes - len(buffer)]
            truncated = truncated or len(buffer) >= limits.output_bytes
    selector.close()
    try:
        process.wait(timeout=0 if (timed_out or truncated) else max(deadline - time.monotonic(), 0))
    except subprocess.TimeoutExpired:
        timed_out = not truncated
    _kill(process)  # a no-op once the program has exited and been reaped
    out, err = (bytes(b).decode("utf-8", "replace") for b in buffers.values())
    code = process.returncode
    if isolated and code is not None and code > 128:  # bwrap reports a killed child as 128+sig
        code = -(code - 128)
    return SandboxResult(out, err, None if timed_out else code, timed_out, truncated, isolated)


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Kill the process group unless already reaped; bwrap's --die-with-parent then takes
    the whole namespace down."""
    if process.returncode is None:  # not reaped yet, so its pid (the group's id) is still ours
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
