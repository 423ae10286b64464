"""The sandbox stops hostile programs and reports why; the host process is unharmed."""

import os
import socket
import threading

import pytest

from thinktime.verifiers.sandbox import Limits, run_python

FAST = Limits(cpu_seconds=1, wall_seconds=3)


def test_ordinary_arithmetic_runs():
    result = run_python("from fractions import Fraction\nprint(Fraction(1, 3) + Fraction(1, 6))")
    assert result.ok and result.stdout == "1/2\n"


def test_socket_is_refused_and_nothing_connects():
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(2)
    port = server.getsockname()[1]
    accepted = []
    threading.Thread(target=lambda: accepted.append(_try_accept(server)), daemon=True).start()
    code = (
        f"import socket\ns = socket.socket()\ns.connect(('127.0.0.1', {port}))\nprint('connected')"
    )
    result = run_python(code, FAST)
    assert not result.ok and result.blocked and "socket" in result.reason
    assert "connected" not in result.stdout
    server.close()


def _try_accept(server: socket.socket) -> bool:
    try:
        server.accept()
        return True
    except OSError:
        return False


def test_write_outside_its_dir_is_refused(tmp_path):
    target = tmp_path / "escaped.txt"
    for code in (
        f"open({str(target)!r}, 'w').write('x')",
        f"import os\nos.open({str(target)!r}, os.O_WRONLY | os.O_CREAT)",
        f"import pathlib\npathlib.Path({str(target)!r}).write_text('x')",
    ):
        result = run_python(code, FAST)
        assert result.blocked and "outside the working directory" in result.reason
    assert not target.exists()


def test_write_inside_its_dir_works_and_is_thrown_away():
    result = run_python("import os\nopen('note.txt', 'w').write('hi')\nprint(os.getcwd())", FAST)
    assert result.ok
    again = run_python("import os\nprint(os.listdir('.'))", FAST)
    assert "note.txt" not in again.stdout  # each run starts from an empty, private directory


def test_fork_loop_is_stopped():
    result = run_python("import os\nwhile True:\n    os.fork()", FAST)
    assert not result.ok and result.blocked and "fork" in result.reason
    result = run_python("import subprocess\nsubprocess.run(['sh', '-c', 'echo hi'])", FAST)
    assert result.blocked and "hi" not in result.stdout


def test_ten_gigabytes_is_refused():
    result = run_python("x = bytearray(10 * 1024**3)\nprint('allocated')", FAST)
    assert not result.ok and "MemoryError" in result.reason and "allocated" not in result.stdout


def test_infinite_loop_is_killed_by_the_cpu_limit():
    result = run_python("while True:\n    pass", FAST)
    assert not result.ok and ("SIGKILL" in result.reason or "SIGXCPU" in result.reason)


def test_sleeping_forever_hits_the_wall_clock():
    result = run_python("import time\ntime.sleep(60)", Limits(cpu_seconds=1, wall_seconds=1))
    assert result.timed_out and result.reason == "timed out"


def test_host_is_unharmed():
    before = os.getpid(), os.getcwd()
    run_python("import os\nos.kill(1, 9)", FAST)
    assert (os.getpid(), os.getcwd()) == before
    assert run_python("print('still fine')", FAST).stdout == "still fine\n"


def test_an_unsafe_run_still_gets_its_memory_cgroup(monkeypatch):
    """Without namespaces (`--unsafe-exec`), the run is still charged to its own cgroup where
    the host lets the service make one (docs/security.md)."""
    from thinktime.verifiers import cgroup, sandbox

    if cgroup.unavailable() is not None:
        pytest.skip(cgroup.unavailable())
    monkeypatch.setattr(sandbox, "namespaces_unavailable", lambda: "no bwrap (test)")
    result = sandbox.run_python("print(open('/proc/self/cgroup').read())", unsafe_exec=True)
    assert not result.isolated and "thinktime-sandbox-" in result.stdout, result
