"""Calls `run_python` the way a service would, from a bare interpreter, and prints the result.

The sandbox's host side is standard library only, so this loads its five modules by path
(no site-packages needed). Tests run it as root and, through `setpriv`, as an unprivileged
user with the system Python, to show the isolation holds for both. It also prints the peak
memory of this caller process, so tests can bound what a program's output costs the caller.

    stdin: {"code": "...", "limits": {...}}   stdout: {"stdout": ..., "maxrss_kib": ...}
"""

import importlib.util
import json
import os
import resource
import sys
import types
from dataclasses import asdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "thinktime"


def _load(name: str, path: Path) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    for package, path in (("thinktime", SRC), ("thinktime.verifiers", SRC / "verifiers")):
        stub = types.ModuleType(package)
        stub.__path__ = [str(path)]
        sys.modules[package] = stub
    _load("thinktime.errors", SRC / "errors.py")
    _load("thinktime.verifiers.cgroup", SRC / "verifiers" / "cgroup.py")
    _load("thinktime.verifiers.isolation", SRC / "verifiers" / "isolation.py")
    _load("thinktime.verifiers.prelude", SRC / "verifiers" / "prelude.py")
    sandbox = _load("thinktime.verifiers.sandbox", SRC / "verifiers" / "sandbox.py")
    request = json.load(sys.stdin)
    limits = sandbox.Limits(**request.get("limits", {}))
    # a service reads the operator's opt-in at its edge and passes it down
    unsafe = os.environ.get("THINKTIME_UNSAFE_EXEC") == "1"
    result = sandbox.run_python(request["code"], limits, unsafe_exec=unsafe)
    print(json.dumps({**asdict(result), "reason": result.reason, "maxrss_kib": _peak_kib()}))


def _peak_kib() -> int:
    """This process's peak resident memory since exec (VmHWM; ru_maxrss would include the
    memory of the process that forked it)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


if __name__ == "__main__":
    main()
