"""Known escapes from the old Python-level sandbox, each asserted harmless from outside.

Every attack first removes the audit hook (three ways, all of which worked before the kernel
layer), then tries to do harm. What is checked is the world, not the program's own report: a
loopback listener this test starts saw no connection, no file appeared outside, the caller and
a bystander process are alive, no sandboxed process is left, the caller's memory stayed small.
Each runs with the service as root and as an unprivileged user (system Python, via setpriv).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

RUNNER = Path(__file__).parents[1] / "helpers" / "sandbox_runner.py"
MARK = "thinktime-sandbox-prelude"
SECRET = f"secret-{uuid.uuid4().hex}"

# three ways to take the audit hook out, from inside the program
BYPASSES = {
    "clear_deny": "import sys\ng = sys.modules['__main__'].__dict__\n"
    "g['_DENY'].clear(); g['_MODULES'].clear(); g['_PATHS'].clear()\n",
    "isinstance_swap": "import builtins\n_real = builtins.isinstance\n"
    "builtins.isinstance = lambda o, t: True if t is int else _real(o, t)\n",
    "gc_code_patch": "import gc\nfor f in gc.get_objects():\n"
    "    if getattr(f, '__name__', '') == '_hook' and hasattr(f, '__code__'):\n"
    "        f.__code__ = (lambda event, args: None).__code__\n",
}


def _attempts(outside: str, port: int) -> str:
    """Harm to try once the hook is gone; each step is independent of the others."""
    steps = [
        f"open({outside + '/plain.txt'!r}, 'w').write('x')",
        f"fd = os.open({outside!r}, os.O_RDONLY)\n"
        "os.close(os.open('dirfd.txt', os.O_CREAT | os.O_WRONLY, dir_fd=fd))",
        f"fd = os.open({outside!r}, os.O_RDONLY)\nos.mkdir('dirfd_dir', dir_fd=fd)",
        f"open('r.txt', 'w').write('x')\nfd = os.open({outside!r}, os.O_RDONLY)\n"
        "os.rename('r.txt', 'renamed.txt', dst_dir_fd=fd)",
        f"os.mkfifo({outside + '/fifo'!r})",
        f"os.mknod({outside + '/node'!r})",
        "import socket\ns = socket.socket()\ns.settimeout(2)\n"
        f"s.connect(('127.0.0.1', {port}))\ns.send(b'hi')",
        f"os.system(\"bash -c 'echo hi > /dev/tcp/127.0.0.1/{port}'; touch {outside}/sh.txt\")",
        f"import subprocess\nsubprocess.run(['/bin/sh', '-c', 'touch {outside}/sub.txt'])",
    ]
    body = "import os\n"
    for step in steps:
        indented = "\n".join("    " + line for line in step.splitlines())
        body += f"try:\n{indented}\n    print('did:', {step.splitlines()[-1]!r})\n"
        body += "except BaseException as exc:\n    print('refused:', type(exc).__name__)\n"
    return body


class Service:
    """Runs the sandbox from a separate caller process, as root or as an unprivileged user."""

    def __init__(self, as_user: bool) -> None:
        self.as_user = as_user
        self.prefix = (
            ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups"] if as_user else []
        )
        self.python = "/usr/bin/python3" if as_user else sys.executable
        self.cgroup = _delegated_cgroup() if as_user else None

    def spawn(self, *argv: str) -> subprocess.Popen[bytes]:
        """A process owned by the same user as the service (a bystander the program may aim at)."""
        return subprocess.Popen([*self.prefix, self.python, *argv])

    def run(
        self, code: str, extra_env: dict[str, str] | None = None, **limits: Any
    ) -> dict[str, Any]:
        env = {"PATH": "/usr/bin:/bin", "THINKTIME_API_KEY": SECRET, "OPENAI_API_KEY": SECRET}
        if self.cgroup is not None:  # an unprivileged service is given a cgroup of its own
            env["THINKTIME_CGROUP"] = str(self.cgroup)
        env.update(extra_env or {})
        done = subprocess.run(
            [*self.prefix, self.python, str(RUNNER), "--api-key", SECRET],
            input=json.dumps({"code": code, "limits": limits}),
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        return dict(json.loads(done.stdout))


def _delegated_cgroup() -> Path:
    """A cgroup handed to user 65534, as systemd's `Delegate=yes` hands one to a service."""
    from thinktime.verifiers import cgroup

    parent, version = cgroup._parent()
    path = parent / f"thinktime-test-delegated-{os.getpid()}"
    path.mkdir(exist_ok=True)
    if version == 2:
        (path / "cgroup.subtree_control").write_text("+memory\n")
    for entry in (path, *(path / n for n in ("cgroup.procs", "tasks", "cgroup.subtree_control"))):
        if entry.exists():
            os.chown(entry, 65534, 65534)
    return path


def _namespaces_work(service: Service) -> bool:
    probe = service.run("print(1)")
    return probe["stdout"] == "1\n" and probe["isolated"]


@pytest.fixture(params=["root", "user"], scope="module")
def service(request: pytest.FixtureRequest) -> Iterator[Service]:
    if shutil.which("bwrap") is None:
        pytest.fail("bubblewrap is not installed: `apt-get install bubblewrap` (make system-deps)")
    as_user = request.param == "user"
    if as_user and (os.getuid() != 0 or not Path("/usr/bin/python3").exists()):
        pytest.skip("needs root (to drop to a user) and a system /usr/bin/python3")
    runner = Service(as_user)
    assert _namespaces_work(runner), "bwrap could not create namespaces"
    yield runner
    if runner.cgroup is not None:
        runner.cgroup.rmdir()


@pytest.fixture
def outside() -> Iterator[Path]:
    """A directory the service user could write to, were it not sandboxed."""
    path = Path(tempfile.mkdtemp(prefix="thinktime-outside-"))
    path.chmod(0o777)
    yield path
    shutil.rmtree(path)


@pytest.fixture
def listener() -> Iterator[tuple[int, Callable[[], list[bytes]]]]:
    """A loopback listener; yields its port and what it received."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    seen: list[bytes] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            seen.append(b"connected:" + connection.recv(100))
            connection.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1], lambda: list(seen)
    stop.set()
    thread.join()
    server.close()


def _leftovers() -> list[int]:
    """Host pids of sandboxed processes still alive."""
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and MARK.encode() in (entry / "cmdline").read_bytes():
                pids.append(int(entry.name))
        except OSError:
            continue
    return pids


def _no_leftovers_within(seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while _leftovers():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


@pytest.mark.parametrize("bypass", sorted(BYPASSES))
def test_removing_the_hook_gains_nothing(service, outside, listener, bypass):
    port, received = listener
    result = service.run(BYPASSES[bypass] + _attempts(str(outside), port), wall_seconds=8)
    assert "did:" in result["stdout"] or "refused:" in result["stdout"], result
    time.sleep(0.3)  # let a connection that did get through reach the listener
    assert received() == []
    assert sorted(p.name for p in outside.iterdir()) == []


def test_secrets_of_the_service_are_out_of_sight(service):
    decoy = service.spawn("-c", "import time; time.sleep(30)", "--api-key", SECRET)
    try:
        code = BYPASSES["clear_deny"] + (
            "import os\nfor pid in ['self', str(os.getppid()), *os.listdir('/proc')]:\n"
            "    for name in ('environ', 'cmdline'):\n"
            "        try:\n"
            "            print(open(f'/proc/{pid}/{name}', 'rb').read())\n"
            "        except Exception as exc:\n"
            "            print('no', pid, name, type(exc).__name__)\n"
            f"for pid in range(1, {decoy.pid + 50}):\n"
            "    try:\n"
            "        print(open(f'/proc/{pid}/environ', 'rb').read())\n"
            "    except Exception:\n"
            "        pass\n"
        )
        result = service.run(code)
        assert SECRET not in result["stdout"] + result["stderr"]
    finally:
        decoy.kill()


def test_caller_and_bystanders_cannot_be_signalled(service):
    bystander = service.spawn("-c", "import time; time.sleep(30)")
    try:
        code = BYPASSES["clear_deny"] + (
            "import os, signal\n"
            f"for pid in (os.getppid(), {bystander.pid}, {os.getpid()}):\n"
            "    try:\n"
            "        signal.pidfd_send_signal(os.pidfd_open(pid), 9)\n"
            "    except Exception as exc:\n"
            "        print('pidfd', pid, type(exc).__name__)\n"
            "    try:\n"
            "        os.kill(pid, 9)\n"
            "    except Exception as exc:\n"
            "        print('kill', pid, type(exc).__name__)\n"
        )
        result = service.run(code)  # the service process itself returned: it is alive
        assert "pidfd" in result["stdout"]
        time.sleep(0.2)
        assert bystander.poll() is None
    finally:
        bystander.kill()


def test_a_setsid_daemon_does_not_outlive_the_call(service):
    code = BYPASSES["clear_deny"] + (
        "import os, time\n"
        "try:\n"
        "    if os.fork() == 0:\n"
        "        os.setsid()\n"
        "        if os.fork() == 0:\n"
        "            time.sleep(60)\n"
        "        os._exit(0)\n"
        "    print('forked')\n"
        "except OSError as exc:\n"
        "    print('refused:', exc)\n"
    )
    result = service.run(code)
    assert "forked" in result["stdout"] or "refused:" in result["stdout"], result
    assert _no_leftovers_within(2.0), _leftovers()


def test_a_fork_bomb_ends_with_the_call(service):
    code = BYPASSES["clear_deny"] + "import os\nwhile True:\n    try:\n        os.fork()\n"
    code += "    except OSError:\n        pass\n"
    started = time.monotonic()
    result = service.run(code, wall_seconds=3, cpu_seconds=2)
    assert time.monotonic() - started < 30
    assert result["returncode"] != 0
    assert _no_leftovers_within(2.0), _leftovers()
    assert subprocess.run(["true"]).returncode == 0  # the host can still start processes


def test_a_gibibyte_of_output_costs_the_caller_little(service):
    code = (
        "import sys\nchunk = 'x' * (1 << 20)\nfor _ in range(1024):\n    sys.stdout.write(chunk)\n"
    )
    result = service.run(code, wall_seconds=20, output_bytes=1 << 16)
    assert result["truncated"] and len(result["stdout"]) <= 1 << 16
    assert result["maxrss_kib"] < 100_000, result["maxrss_kib"]  # the old sandbox: 3.1 GB
    assert _no_leftovers_within(2.0), _leftovers()


def test_nothing_but_the_work_dir_is_writable_and_no_thread_starts(service):
    code = BYPASSES["clear_deny"] + (
        "import os, threading\n"
        "for path in ('/x', '/dev/x', '/dev/shm/x', '/usr/lib/x', '/tmp/x'):\n"
        "    try:\n"
        "        open(path, 'w').write('x')\n"
        "        print('wrote', path)\n"
        "    except OSError as exc:\n"
        "        print('refused', path, type(exc).__name__)\n"
        "try:\n"
        "    threading.Thread(target=lambda: None).start()\n"
        "    print('thread started')\n"
        "except RuntimeError:\n"
        "    print('thread refused')\n"
        "open('/work/ok.txt', 'w').write('fine')\n"
        "print('work ok')\n"
    )
    out = service.run(code)["stdout"]
    assert "wrote" not in out and out.count("refused /") == 5 and "work ok" in out, out
    if not service.as_user:  # the seccomp filter needs pyseccomp, installed for the service
        assert "thread refused" in out, out


class MemoryWatch:
    """The host's memory in use (MemTotal - MemAvailable, from /proc/meminfo), polled from
    outside every 10 ms; `growth` is its peak over the level before the run."""

    def __init__(self) -> None:
        self.before = self._used()
        self.peak = self.before
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    @staticmethod
    def _used() -> int:
        fields = {}
        for line in Path("/proc/meminfo").read_text().splitlines():
            name, value = line.split(":", 1)
            fields[name] = int(value.split()[0]) * 1024
        return fields["MemTotal"] - fields["MemAvailable"]

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._used())
            time.sleep(0.01)

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    @property
    def growth(self) -> int:
        return self.peak - self.before


LIMIT = 192 * 2**20  # the run's memory limit in the floods below
CALLER = 48 * 2**20  # the caller process (an interpreter running the sandbox's host side)
FLOODS = {
    # 8,192 extended attributes of 64 KiB on one file: 512 MiB of kernel memory, no data
    "xattrs": "import os, time\nopen('a', 'w').close()\nfor i in range(8192):\n"
    "    try:\n        os.setxattr('a', f'user.k{i}', b'v' * 65536)\n"
    "    except OSError as exc:\n        print('refused:', exc)\n        break\n"
    "time.sleep(1)\n",
    # empty files: each costs an inode and a dentry in kernel memory, none of the tmpfs's size
    "inodes": "import os, time\nos.mkdir('d')\nfor i in range(2_000_000):\n"
    "    try:\n        os.close(os.open(f'd/{i}', os.O_CREAT | os.O_WRONLY))\n"
    "    except OSError as exc:\n        print('refused:', i, exc)\n        break\n"
    "time.sleep(1)\n",
}


@pytest.mark.parametrize("flood", sorted(FLOODS))
def test_kernel_memory_floods_stay_inside_the_runs_limit(service, flood):
    with MemoryWatch() as memory:
        result = service.run(FLOODS[flood], memory_bytes=LIMIT, wall_seconds=20, cpu_seconds=15)
    assert memory.growth < LIMIT + CALLER, (memory.growth >> 20, result)
    assert _no_leftovers_within(2.0), _leftovers()


def test_only_the_libraries_the_interpreter_loads_are_visible(service):
    code = (
        "import os\nseen = []\nfor root, dirs, files in os.walk('/usr'):\n"
        "    seen += [os.path.join(root, f) for f in files]\n"
        "print(len(seen))\n"
        "print('git' if os.path.exists('/usr/lib/git-core/git') else 'no git')\n"
        "print('sdk' if any('-packages' in p for p in seen) else 'no packages')\n"
        "bins = [p for p in seen if p.startswith('/usr/bin/') and 'python' not in p]\n"
        "print(bins or 'no bin')\n"
        "print('x11' if any('libX11' in p for p in seen) else 'no x11')\n"
    )
    out = service.run(code)["stdout"].splitlines()
    assert out[1:] == ["no git", "no packages", "no bin", "no x11"], out


# a local user who watches /tmp with inotify and swaps `program.py` for a link to a file only
# the service may read, the moment a run's folder appears
ATTACKER = r"""
import ctypes, os, struct, sys, time
libc = ctypes.CDLL(None, use_errno=True)
tmp, secret = sys.argv[1], sys.argv[2]
fd = libc.inotify_init1(0)
libc.inotify_add_watch(fd, tmp.encode(), 0x100)  # IN_CREATE
print("ready", flush=True)
while True:
    data, offset = os.read(fd, 65536), 0
    while offset < len(data):
        _, _, _, length = struct.unpack_from("iIII", data, offset)
        name = data[offset + 16 : offset + 16 + length].rstrip(b"\0").decode()
        offset += 16 + length
        if not name.startswith("thinktime-sandbox-"):
            continue
        folder, end, swapped = os.path.join(tmp, name), time.monotonic() + 0.3, False
        while time.monotonic() < end and not swapped:
            for target in (f"{folder}/program.py", f"{folder}/work/program.py"):
                try:
                    os.symlink(secret, target + ".swap")
                    os.rename(target + ".swap", target)
                    swapped = True
                except OSError:
                    pass
"""


@pytest.mark.parametrize("mode", ["isolated", "unsafe"])
def test_a_local_user_cannot_swap_the_program(mode, tmp_path):
    if os.getuid() != 0 or not Path("/usr/bin/python3").exists():
        pytest.skip("needs root (the service) and a system /usr/bin/python3 (the attacker)")
    secret = tmp_path / "root-only"
    secret.write_text(f"{SECRET.replace('-', '_')}\n")
    secret.chmod(0o600)
    tmp_path.chmod(0o755)
    attacker = subprocess.Popen(
        ["setpriv", "--reuid", "65534", "--regid", "65534", "--clear-groups", "/usr/bin/python3",
         "-c", ATTACKER, tempfile.gettempdir(), str(secret)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert attacker.stdout is not None and attacker.stdout.readline() == "ready\n"
        service = Service(as_user=False)
        env = {"THINKTIME_UNSAFE_EXEC": "1", "PATH": "/nonexistent"} if mode == "unsafe" else {}
        for _ in range(10):
            result = service.run("print('ran')", extra_env=env)
            assert result["isolated"] == (mode == "isolated"), result
            output = result["stdout"] + result["stderr"]
            assert SECRET.replace("-", "_") not in output and "ran" in output, output
    finally:
        attacker.kill()
        attacker.wait()
