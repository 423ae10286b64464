"""The Python that runs first inside the sandbox: the audit hook (the sandbox's second layer).

It imports what arithmetic programs use, reads `program.py`, installs an audit hook that refuses
sockets, subprocesses, ctypes and writes outside the working directory, and then runs the
program under it. Python code can remove the hook (`tests/verifiers/test_sandbox_escape.py`
does, three ways); the kernel namespaces around it (`isolation.py`) are what hold.

    >>> PRELUDE.splitlines()[0]
    '# thinktime-sandbox-prelude'
"""

# its first line marks sandboxed processes, for tests that look for leftovers
PRELUDE = r"""# thinktime-sandbox-prelude
import sys, os
import math, cmath, fractions, decimal, itertools, functools, statistics, collections, re
import datetime, random, string, heapq, bisect, operator, pathlib, json, numbers, typing, copy, time
import dataclasses, textwrap, array, struct, calendar
_source = open("program.py").read()
if os.getuid() == 0:  # unsafe mode as root: root ignores RLIMIT_NPROC, so become nobody
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
