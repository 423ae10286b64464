"""Kernel-level isolation for model-written code: fresh Linux namespaces through bubblewrap.

`bwrap` (Debian package `bubblewrap`, what Flatpak runs apps in) starts the interpreter in new
user, mount, pid, network, ipc, uts and cgroup namespaces. What the program can see:
- the interpreter binary, its shared library, the standard library and /usr/lib, read-only;
  no /usr/bin (no shell), no /etc, no home, no project, no site-packages (a read-only tmpfs
  hides it), no /proc of the host (none at all);
- one private tmpfs, `/work`, the only writable place, of a fixed size, gone after the call;
- a network namespace holding only its own loopback: nothing on the host is reachable;
- its own pid namespace: it cannot see or signal a host process, and when the call ends the
  namespace's init dies and the kernel kills everything left in it (a `setsid` daemon too);
- user 65534 with every capability dropped, no new user namespaces (`--disable-userns`), and a
  seccomp filter (when libseccomp is installed) refusing ptrace, mount, keyctl, bpf, io_uring,
  perf events, module loading, non-Unix sockets and any new task (process or thread);
- everything but `/work` is read-only: the root, `/dev` (so no tmpfs can fill host memory).

    >>> command = bwrap_command(["/usr/bin/python3", "-c", "print(1)"], {"/work/x.py": "/tmp/x"})
    >>> command[:2], "--unshare-net" in command, "--die-with-parent" in command
    (['bwrap', '--unshare-user'], True, True)
"""

from __future__ import annotations

import errno
import functools
import glob
import os
import shutil
import subprocess
import sys
import sysconfig
from collections.abc import Mapping, Sequence

WORKDIR = "/work"
TMPFS_BYTES = 16 * 2**20
SANDBOX_UID = 65534

# syscalls no arithmetic program needs and every container escape wants
_DENIED_SYSCALLS = (
    "ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root", "chroot",
    "unshare", "setns", "keyctl", "add_key", "request_key", "bpf", "perf_event_open",
    "userfaultfd", "kexec_load", "kexec_file_load", "init_module", "finit_module",
    "delete_module", "io_uring_setup", "io_uring_enter", "io_uring_register", "syslog", "acct",
    "swapon", "swapoff", "reboot", "sethostname", "setdomainname", "quotactl",
    "open_by_handle_at", "name_to_handle_at", "iopl", "ioperm", "settimeofday", "clock_settime",
    "adjtimex", "personality", "pidfd_getfd", "fsopen", "fsconfig", "fsmount", "fspick",
    "move_mount", "open_tree", "mount_setattr",
    # no new tasks at all: neither processes nor threads (as root, RLIMIT_NPROC does not bind)
    "fork", "vfork", "clone",
)  # fmt: skip


def _mounts() -> list[str]:
    """Read-only binds: the interpreter, its libraries and its standard library."""
    interpreter = os.path.realpath(sys.executable)
    base = sys.base_prefix
    stdlib = sysconfig.get_paths()["stdlib"]
    binds = [interpreter, stdlib, *glob.glob(os.path.join(base, "lib", "libpython*"))]
    args: list[str] = []
    for root in ("/usr/lib", "/usr/lib64"):
        if os.path.isdir(root):
            args += ["--ro-bind", root, root]
    for link in ("/lib", "/lib64", "/lib32"):
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    for path in dict.fromkeys(binds):  # keep order, drop repeats
        if not path.startswith(("/usr/lib/", "/usr/lib64/")):
            args += ["--ro-bind", path, path]
    # installed packages are not part of the standard library: hide them under empty tmpfs
    for site in (os.path.join(stdlib, "site-packages"), *glob.glob("/usr/lib/python3*/*-packages")):
        if os.path.isdir(site):
            args += ["--tmpfs", site, "--remount-ro", site]
    return args


def bwrap_command(
    argv: Sequence[str],
    files: Mapping[str, str],
    seccomp_fd: int | None = None,
    info_fd: int | None = None,
) -> list[str]:
    """The bwrap command line that runs `argv` isolated; `files` maps sandbox path → host file.

    `info_fd` receives bwrap's JSON with the host pid of the namespace's init (`child-pid`).
    """
    command = [
        "bwrap",
        "--unshare-user", "--unshare-ipc", "--unshare-pid", "--unshare-net", "--unshare-uts",
        "--unshare-cgroup-try", "--disable-userns",
        "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID), "--hostname", "sandbox",
        "--cap-drop", "ALL", "--die-with-parent", "--new-session", "--clearenv",
        "--setenv", "PYTHONIOENCODING", "utf-8", "--setenv", "HOME", WORKDIR,
        *_mounts(),
        "--dev", "/dev", "--remount-ro", "/dev",
        "--size", str(TMPFS_BYTES), "--tmpfs", WORKDIR,
    ]  # fmt: skip
    for inside, outside in files.items():
        command += ["--ro-bind", outside, inside]
    command += ["--remount-ro", "/"]  # the root tmpfs bwrap builds on: nothing to fill there
    if seccomp_fd is not None:
        command += ["--seccomp", str(seccomp_fd)]
    if info_fd is not None:
        command += ["--info-fd", str(info_fd)]
    return [*command, "--chdir", WORKDIR, *argv]


@functools.cache
def seccomp_filter() -> bytes | None:
    """The compiled BPF filter, or None where libseccomp is missing."""
    try:
        import pyseccomp as seccomp

        rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    except (ImportError, OSError, RuntimeError):
        return None
    for name in _DENIED_SYSCALLS:
        try:
            rules.add_rule(seccomp.ERRNO(errno.EPERM), name)
        except (RuntimeError, ValueError, OSError):
            continue  # not a syscall on this architecture
    # only Unix sockets: the net namespace is empty anyway, this also closes raw/netlink
    rules.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), "socket", seccomp.Arg(0, seccomp.NE, 1))
    # clone3 reports ENOSYS (its flags live in memory, out of seccomp's sight) so libc falls back
    # to clone, which is refused above: a fork bomb or a thread flood ends at its first task
    rules.add_rule(seccomp.ERRNO(errno.ENOSYS), "clone3")
    read, write = os.pipe()
    with os.fdopen(write, "wb") as out:
        rules.export_bpf(out)
    with os.fdopen(read, "rb") as source:
        return source.read()


@functools.cache
def namespaces_unavailable() -> str | None:
    """Why kernel isolation cannot run here, or None when it can (probed once)."""
    if shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed; install it with `apt-get install bubblewrap`"
    probe = bwrap_command([os.path.realpath(sys.executable), "-I", "-S", "-c", "print(1)"], {})
    try:
        done = subprocess.run(probe, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap could not start: {exc}"
    if done.returncode != 0 or done.stdout.strip() != "1":
        reason = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return f"bwrap cannot create namespaces here ({reason}); user namespaces may be disabled"
    return None
