"""Kernel-level isolation for model-written code: fresh Linux namespaces through bubblewrap.

`bwrap` (Debian package `bubblewrap`, what Flatpak runs apps in) starts the interpreter in new
user, mount, pid, network, ipc, uts and cgroup namespaces. What the program can see:
- the interpreter binary, its shared library, the standard library and the shared libraries
  these load (found by `ldd`, each bound alone), read-only; the rest of /usr/lib is not there
  (no vendor SDKs, no `git-core`), nor /usr/bin (no shell), /etc, home, the project,
  site-packages (a read-only tmpfs hides it) or the host's /proc (none at all);
- one private tmpfs, `/work`, the only writable place, of a fixed size, gone after the call;
- a network namespace holding only its own loopback: nothing on the host is reachable;
- its own pid namespace: it cannot see or signal a host process, and when the call ends the
  namespace's init dies and the kernel kills everything left in it (a `setsid` daemon too);
- user 65534 with every capability dropped, no new user namespaces (`--disable-userns`), and a
  seccomp filter (when libseccomp is installed) refusing ptrace, mount, keyctl, bpf, io_uring,
  perf events, module loading, non-Unix sockets, extended attributes (a tmpfs keeps them in
  kernel memory) and any new task (process or thread);
- everything but `/work` is read-only: the root, `/dev` (so no tmpfs can fill host memory).

    >>> command = bwrap_command(["/usr/bin/python3", "-c", "print(1)"], {"/work/x.py": 5})
    >>> command[:2], "--unshare-net" in command, "--die-with-parent" in command
    (['bwrap', '--unshare-user'], True, True)
    >>> command[command.index("--ro-bind-data") : command.index("--ro-bind-data") + 3]
    ['--ro-bind-data', '5', '/work/x.py']
    >>> _resolved("libz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x7f)\\nx.so:\\n")
    ['/lib/x86_64-linux-gnu/libz.so.1']
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
    # extended attributes live in kernel memory on a tmpfs: 64 KiB each, thousands per file
    "setxattr", "lsetxattr", "fsetxattr", "setxattrat",
    # no new tasks at all: neither processes nor threads (as root, RLIMIT_NPROC does not bind)
    "fork", "vfork", "clone",
)  # fmt: skip


@functools.cache
def _mounts() -> tuple[str, ...]:
    """Read-only binds: the interpreter, its standard library and the shared libraries they
    load — each library file alone, never a whole directory of the host."""
    interpreter = os.path.realpath(sys.executable)
    base = sys.base_prefix
    stdlib = sysconfig.get_paths()["stdlib"]
    libpython = glob.glob(os.path.join(base, "lib", "libpython*"))
    args: list[str] = []
    for link in ("/lib", "/lib64", "/lib32"):  # usr-merged systems: /lib -> usr/lib
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
    for path in dict.fromkeys([interpreter, stdlib, *libpython]):  # keep order, drop repeats
        args += ["--ro-bind", path, path]
    bound: set[str] = set()
    for path in _libraries([interpreter, *libpython, *_extensions(stdlib)]):
        real = os.path.realpath(path)
        if real not in bound:
            bound.add(real)
            args += ["--ro-bind", real, real]
        seen = os.path.join(os.path.realpath(os.path.dirname(path)), os.path.basename(path))
        if seen != real:  # libz.so.1 -> libz.so.1.2.13: the name the loader asks for
            args += ["--symlink", real, seen]
    # installed packages are not part of the standard library: hide them under empty tmpfs
    for site in glob.glob(os.path.join(stdlib, "*-packages")):
        if os.path.isdir(site):
            args += ["--tmpfs", site, "--remount-ro", site]
    return tuple(args)


def _extensions(stdlib: str) -> list[str]:
    """The standard library's compiled modules (`lib-dynload`), whose libraries load too;
    not Tk's, which would bring the X11 client libraries for a window no program opens."""
    found = glob.glob(os.path.join(stdlib, "lib-dynload", "*.so"))
    return sorted(p for p in found if not os.path.basename(p).startswith("_tkinter"))


def _libraries(objects: Sequence[str]) -> list[str]:
    """Every shared library (and the dynamic loader) `objects` load, as `ldd` resolves them."""
    found: dict[str, None] = {}
    for start in range(0, len(objects), 64):  # a few ldd calls, not one per file
        done = subprocess.run(
            ["ldd", *objects[start : start + 64]], capture_output=True, text=True, check=False
        )
        found.update(dict.fromkeys(_resolved(done.stdout)))
    return sorted(found)


def _resolved(listing: str) -> list[str]:
    """The library paths in `ldd`'s output (`name => /path (addr)` or `/path (addr)`)."""
    paths = []
    for line in listing.splitlines():
        if "(0x" not in line:  # a file's header, `not found`, `statically linked`
            continue
        target = line.split("=>", 1)[-1].strip().split(" (", 1)[0].strip()
        if target.startswith("/") and os.sep in target:
            paths.append(target)
    return paths


def bwrap_command(
    argv: Sequence[str],
    files: Mapping[str, int],
    seccomp_fd: int | None = None,
    info_fd: int | None = None,
) -> list[str]:
    """The bwrap command line that runs `argv` isolated; `files` maps a sandbox path to a
    descriptor bwrap copies the file from (never a host path, which another user could swap
    for a symlink between our write and bwrap's bind).

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
    for inside, fd in files.items():
        command += ["--ro-bind-data", str(fd), inside]
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
