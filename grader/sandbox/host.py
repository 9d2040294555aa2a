"""The grader's side of a jail on the host: its uid, its temp folder, its cgroups, and making sure nothing
of it is left (processes under its uid, folders of graders that died).

Every name this module makes carries the grader's pid (``peftcalc-box-PID-…``, cgroup ``peftcalc-PID-…``)
and every uid it hands out is remembered (:func:`issued_uids`): a leftover check looks at what this
process started and nothing else, so another grader or test suite on the machine cannot confuse it.
"""

from __future__ import annotations

import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from functools import lru_cache
from pathlib import Path

# Each jail runs under its own uid (no passwd entry needed): RLIMIT_NPROC counts processes per uid, so a
# fork spray in one submission cannot starve another graded beside it.
UID_BASE, UID_SPAN = 200_000, 800_000
_ISSUED_UIDS: set[int] = set()


def jail_uid(tag: str) -> int:
    """The uid of a new jail (from its random hex tag), remembered as this process's."""
    uid = UID_BASE + int(tag, 16) % UID_SPAN
    _ISSUED_UIDS.add(uid)
    return uid


def issued_uids() -> frozenset[int]:
    """Every jail uid this process has handed out (what a leftover check should look for, and nothing else)."""
    return frozenset(_ISSUED_UIDS)


@lru_cache(maxsize=1)
def isolation_available() -> str:
    """'namespace' (root, unshare + setpriv + pivot_root, and the kernel lets us make the namespaces), else
    'user' (root without namespaces — a container without CAP_SYS_ADMIN, Gradescope's: a plain child process
    dropped to a jail uid with setpriv, seccomp on), else 'process' (not root: a plain child process)."""
    if sys.platform != "linux" or os.geteuid() != 0 or not shutil.which("setpriv"):
        return "process"
    if not all(shutil.which(t) for t in ("unshare", "pivot_root")):
        return "user"
    probe = ["unshare", "--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child", "true"]
    try:
        made = subprocess.run(probe, capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        made = False
    return "namespace" if made else "user"


def new_box() -> Path:
    """A fresh temp folder named after this grader's pid, after removing those of graders that died
    (a grader killed mid-batch cannot run its own clean-up)."""
    tmp = Path(tempfile.gettempdir())
    for stale in tmp.glob("peftcalc-box-*"):
        parts = stale.name.split("-")
        if len(parts) >= 4 and parts[2].isdigit() and not Path(f"/proc/{parts[2]}").exists():
            remove_tree(stale)
    for ctrl in ("memory", "pids"):
        for group in Path("/sys/fs/cgroup", ctrl).glob("peftcalc-*"):
            pid = group.name.split("-")[1]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                try:
                    group.rmdir()
                except OSError:
                    pass
    return Path(tempfile.mkdtemp(prefix=f"peftcalc-box-{os.getpid()}-"))


def remove_tree(path: Path) -> None:
    """Remove a box; its folders are the grader's own (the jail's writable folders are tmpfs inside the
    jail's mount namespace and vanish with it), so nothing here needs chmod tricks."""
    shutil.rmtree(path, ignore_errors=True)


def make_cgroups(tag: str, memory: int, pids: int) -> list[Path]:
    made = []
    for ctrl, settings in (("memory", {"memory.limit_in_bytes": memory}), ("pids", {"pids.max": pids})):
        base = Path("/sys/fs/cgroup") / ctrl
        if not (base / "cgroup.procs").exists() or not os.access(base, os.W_OK):
            continue
        group = base / f"peftcalc-{os.getpid()}-{tag}"
        try:
            group.mkdir()
            for name, value in settings.items():
                (group / name).write_text(str(value))
            made.append(group)
        except OSError:
            continue
    return made


def in_cgroups(groups: list[Path], cmd: list[str]) -> list[str]:
    """``cmd`` started by a shell that first moves itself into ``groups`` (the jail's processes are all
    born inside them). A shell instead of ``preexec_fn``: Popen without it uses vfork, 0.3 ms instead of
    ~10 ms from a large grader process."""
    if not groups:
        return cmd
    join = 'for g in $1; do echo $$ > "$g/cgroup.procs" 2>/dev/null; done; shift; exec "$@"'
    return ["/bin/sh", "-c", join, "join", " ".join(str(g) for g in groups), *cmd]


def remove_cgroups(groups: list[Path]) -> None:
    for g in groups:
        for _ in range(50):
            try:
                g.rmdir()
                break
            except OSError:
                time.sleep(0.02)


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the jail (its PID namespace dies with its init) and its session, then reap."""
    for target in (lambda: os.killpg(proc.pid, signal.SIGKILL), proc.kill):
        try:
            target()
        except OSError:
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def processes_of(uid: int, *, besides: int | None = None) -> list[int]:
    """The pids running under ``uid`` (``besides``: one to leave out, the jail's own init)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == besides:
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("Uid", "").split()[:1] == [str(uid)]:
            out.append(int(entry.name))
    return out


SHARED_WRITABLE = ("/tmp", "/dev/shm")  # what every uid may write on a host without namespaces


def files_of(uid: int, roots: tuple[str, ...] = SHARED_WRITABLE, limit: int = 1000) -> list[Path]:
    """Files and folders owned by ``uid`` in the host's shared writable places (at most ``limit``)."""
    found: list[Path] = []
    for root in roots:
        for folder, dirs, files in os.walk(root, onerror=lambda exc: None):
            keep = []
            for name in dirs + files:
                path = Path(folder) / name
                try:
                    st = path.lstat()
                except OSError:
                    continue
                if st.st_uid == uid:
                    found.append(path)  # removed whole: no need to look inside
                elif name in dirs and st.st_mode & stat.S_IWOTH and stat.S_ISDIR(st.st_mode):
                    keep.append(name)  # only a folder anyone may write can hold the uid's files
                if len(found) >= limit:
                    return found
            dirs[:] = keep
    return found


def sweep(uids: set[int], wait: float = 5.0) -> None:
    """Kill whatever still runs under the jails' uids and wait until their processes are gone (zombies are
    reaped by the dying namespace)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        alive = [pid for uid in uids for pid in processes_of(uid)]
        for pid in alive:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if not alive:
            return
        time.sleep(0.05)
