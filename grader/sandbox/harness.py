"""Inside the jail: the serve loop of the jail's init and the forks that run a submission's checks.

``python -I -S harness.py CONFIG.json CONTROL_FD SOURCE_FD CHANNEL_FD STATUS_FD``. Two kinds of process:

- the **init** (the jail's PID 1; long-lived): imports numpy (and torch) once, then per request forks
  the submission's processes, enforces their time limits and cleans up after them. It never reads the
  source pipe, a submission's files, its output or its results: no later fork can find an earlier
  submission in the memory it inherits from the init. Its own word (``done``: how each fork ended,
  whether the jail is clean) goes on the *status* pipe, which no fork holds;
- the **forks**, where the submission's code runs: the first reads the source from the source pipe and
  writes it to the job's folder, then runs every check (the fast path); if it hangs or dies, an import
  probe and one fork per check follow (the careful path). Each writes its records itself, as its last
  act, on the *channel*; only stdio, the channel and the source pipe stay open in them.

The grader reads the channel through ``protocol``'s bounded codec and validates every record; whatever a
fork writes there counts for its own submission only (a line carries the job's token). After each job
the init kills every other process of the jail, empties every writable folder and says whether the jail
is clean (nothing left on disk, no IPC object, no unread source); the grader replaces a jail that is not.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import select
import signal
import sys
import time
from collections.abc import Callable
from typing import Any

try:  # in the grader's process (benchmarks, doctests)
    from grader.sandbox import ops, protocol
except ImportError:  # in the jail: the copies beside this file (-I keeps the script's folder off sys.path)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import ops  # type: ignore[no-redef]
    import protocol  # type: ignore[no-redef]

PRELOAD = ("numpy", "numpy.random", "numpy.linalg", "random", "math")
SOURCE_FAILED = 4  # the first fork's exit code when it could not read the source (the jail's fault)
# bound before any student code runs: patching os.write or json.dumps later cannot reach these
_write, _exit, _encode = os.write, os._exit, protocol.encode_line
_FD_LIMIT = 1 << 16  # lowered to RLIMIT_NOFILE in _prepare(): closing 65,536 descriptors per fork costs ~10 ms


def _child_setup(keep: tuple[int, ...]) -> None:
    """In a fork about to run student code: only stdio and ``keep`` stay open (the control and status
    pipes are out of reach), and the fork leads its own process group."""
    low = 3
    for fd in sorted(keep):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, _FD_LIMIT)
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    if "numpy.random" in sys.modules:  # preloaded: without this every fork would draw the same numbers
        sys.modules["numpy.random"].seed(int.from_bytes(os.urandom(4), "little"))


def _flush() -> None:
    """What the submission printed reaches the output files (os._exit skips Python's buffers)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - a replaced or broken stream is the submission's business
            pass


def _reap() -> None:
    """As the jail's PID 1, orphans of the submission are ours: collect their exit statuses (no zombies)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def _wait(pid: int, deadline: float) -> int | None:
    """The fork's exit status, or None once ``deadline`` passed; a fork the submission stopped (SIGSTOP,
    same uid) is continued, so that its time still runs out."""
    try:
        pidfd = os.pidfd_open(pid)
    except (AttributeError, OSError):
        pidfd = -1
    try:
        while True:
            done, status = os.waitpid(pid, os.WNOHANG | os.WUNTRACED)
            if done == pid and os.WIFSTOPPED(status):
                os.kill(pid, signal.SIGCONT)
                continue
            if done == pid:
                return status
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            if pidfd >= 0:
                select.select([pidfd], [], [], min(remaining, 0.05))
            else:
                time.sleep(min(remaining, 0.002))
    finally:
        if pidfd >= 0:
            os.close(pidfd)


def run_in_fork(child: Callable[[], int], keep: tuple[int, ...], limit: float) -> str:
    """Run ``child`` in a fork (its return value is the exit code) for at most ``limit`` seconds; then kill
    the fork's group. Returns '' if it exited 0, else how it ended (for the record of its check)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            _child_setup(keep)
            code = child()
        finally:
            _flush()
            _exit(code)
    status = _wait(pid, time.monotonic() + limit)
    for target in (-pid, pid):
        try:
            os.kill(target, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    if status is None:
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            pass
        _reap()
        return f"time limit {limit:g} s exceeded"
    _reap()
    if os.WIFSIGNALED(status):
        sig = os.WTERMSIG(status)
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
        return f"crashed with signal {name}"
    code = os.WEXITSTATUS(status)
    return "" if code == 0 else f"exit {code}" if code != SOURCE_FAILED else "source"


def _read_source(fd: int, size: int, sha256: str) -> bytes:
    """Exactly ``size`` bytes from the source pipe, checked against their digest."""
    chunks, got = [], 0
    while got < size:
        chunk = os.read(fd, min(1 << 16, size - got))
        if not chunk:
            raise OSError("the source pipe closed early")
        chunks.append(chunk)
        got += len(chunk)
    data = b"".join(chunks)
    if hashlib.sha256(data).hexdigest() != sha256:
        raise OSError("the source does not match its digest")
    return data


def grade_job(job: dict[str, Any], checks: list[dict[str, Any]], folder: str, source_fd: int,
              channel: int) -> dict[str, str]:
    """All checks of one submission, each fork writing its own records on ``channel``; returns how the
    forks that wrote none ended, by check id (``"*"``: every check, the submission did not import)."""
    token, module_path = str(job["job"]), os.path.join(folder, "submission.py")
    timeout, budget = float(job["check_seconds"]), float(job["budget_seconds"])
    started = time.monotonic()

    def emit(message: dict[str, Any]) -> None:
        _write(channel, _encode({**message, "job": token}))

    def fast_path() -> int:
        try:
            source = _read_source(source_fd, int(job["source_bytes"]), str(job["source_sha256"]))
            with open(module_path, "xb") as fh:
                fh.write(source)
        except OSError:
            return SOURCE_FAILED
        os.close(source_fd)
        try:
            module = ops.load_module(module_path)
        except BaseException as exc:  # noqa: BLE001
            why = f"importing the submission failed: {ops.describe_error(exc)}"
            out = [{"id": c["id"], "ok": False, "error": why} for c in checks]
        else:
            out = ops.run_all(module, checks)
        _flush()
        try:
            line = _encode({"batch": out, "job": token})
        except (TypeError, ValueError):  # unserialisable results: let the careful path sort it out
            return 3
        _write(channel, line)  # the final line: the grader keeps the last record of each check
        return 0

    ended = run_in_fork(fast_path, (channel, source_fd), timeout)
    if ended in ("", "source"):
        return {"source": "the jail could not hand over the source"} if ended else {}

    def probe() -> int:  # careful path: import once on its own (a module that hangs or dies on import
        try:             # fails every check once), then each check in its own fork
            ops.load_module(module_path)
        except BaseException as exc:  # noqa: BLE001
            why = f"importing the submission failed: {ops.describe_error(exc)}"
            emit({"batch": [{"id": c["id"], "ok": False, "error": why} for c in checks]})
            return 1
        return 0

    imported = run_in_fork(probe, (channel,), timeout)
    if imported:
        return {"*": f"importing the submission failed: {imported}"}
    out: dict[str, str] = {}
    for check in checks:
        if time.monotonic() - started > budget:
            out[check["id"]] = f"not run: the submission's time budget ({budget:g} s) is spent"
            continue

        def one(check: dict[str, Any] = check) -> int:
            try:
                module = ops.load_module(module_path)
                record = {"id": check["id"], "ok": True, "values": ops.run_ops(module, check["ops"])}
            except BaseException as exc:  # noqa: BLE001 - anything the student does is reported
                record = {"id": check["id"], "ok": False, "error": ops.describe_error(exc)}
            _flush()
            try:
                line = _encode({"record": record, "job": token})
            except (TypeError, ValueError):
                line = _encode({"record": {"id": check["id"], "ok": False, "error": "result could not be serialised"},
                                "job": token})
            _write(channel, line)
            return 0

        why = run_in_fork(one, (channel,), timeout)
        if why:
            out[check["id"]] = why if why.startswith(("time", "crashed")) else \
                "the check ended without a result (exit mid-run?)"
    return out


def apply_limits(limits: dict[str, int]) -> None:
    import resource

    for name, value in limits.items():
        res = getattr(resource, f"RLIMIT_{name.upper()}", None)
        if res is not None:
            try:
                resource.setrlimit(res, (value, value))
            except (ValueError, OSError):
                pass


def _not_dumpable() -> None:
    """PR_SET_DUMPABLE 0 (inherited by every fork): processes of the same uid cannot ptrace the init, read
    its memory or open its /proc/PID/fd — so not its control and status pipes either."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):
        pass


# What no check needs and every escape does: namespaces and mounts (a user namespace would hand a submission
# every capability inside it), ptrace and cross-process memory, kernel keyrings, BPF, userfaultfd, perf,
# io_uring, file handles. x86_64 numbers; clone3 answers ENOSYS, so that glibc falls back to clone, whose
# namespace flags are then refused.
_DENIED_SYSCALLS = (101, 155, 161, 165, 166, 248, 249, 250, 272, 298, 303, 304, 308, 310, 311, 321, 323,
                    425, 428, 429, 430, 431, 432, 433, 442)
_CLONE_NAMESPACES = 0x7E020000  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET


def _seccomp() -> bool:
    """Install a seccomp filter refusing :data:`_DENIED_SYSCALLS` (EPERM) in this process and every fork of
    it; False where it cannot (not x86_64, no seccomp)."""
    import ctypes
    import platform

    if platform.machine() != "x86_64":
        return False
    allow, eperm, enosys = 0x7FFF0000, 0x00050000 | 1, 0x00050000 | 38
    prog: list[tuple[int, int, int, int]] = []  # (code, jump if true, jump if false, k)
    load, ret = (lambda off: prog.append((0x20, 0, 0, off))), (lambda value: prog.append((0x06, 0, 0, value)))
    load(4)                                          # seccomp_data.arch
    prog.append((0x15, 1, 0, 0xC000003E))            # AUDIT_ARCH_X86_64, else refuse
    ret(eperm)
    load(0)                                          # seccomp_data.nr
    prog.append((0x35, 0, 1, 0x40000000))            # the x32 ABI: refused
    ret(eperm)
    for nr in _DENIED_SYSCALLS:
        prog.append((0x15, 0, 1, nr))
        ret(eperm)
    prog.append((0x15, 0, 1, 435))                   # clone3
    ret(enosys)
    prog.append((0x15, 0, 3, 56))                    # clone: look at its flags
    load(16)                                         # args[0], low 32 bits
    prog.append((0x45, 0, 1, _CLONE_NAMESPACES))
    ret(eperm)
    ret(allow)

    class Filter(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]

    class Program(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter))]

    filters = (Filter * len(prog))(*(Filter(*ins) for ins in prog))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS (setpriv set it already in a namespace jail)
    return libc.prctl(22, 2, ctypes.byref(Program(len(prog), filters)), 0, 0) == 0  # PR_SET_SECCOMP, FILTER


def _prepare(config: dict[str, Any]) -> None:
    _not_dumpable()
    for path in config.get("sys_path", []):
        sys.path.insert(0, path)
    if config.get("preload_torch"):
        import torch  # noqa: F401 - paid once, before the forks
    # what submissions and checks use, imported once so that no fork pays for it: numpy.random alone
    # loads eight extension modules (~20 ms per fork)
    for name in PRELOAD:
        importlib.import_module(name)
    apply_limits(config.get("rlimits", {}))
    if config.get("seccomp", config.get("namespace")) and not _seccomp():
        print("harness: no seccomp filter on this machine; namespaces and rlimits only", file=sys.stderr)
    global _FD_LIMIT
    import resource

    _FD_LIMIT = min(_FD_LIMIT, resource.getrlimit(resource.RLIMIT_NOFILE)[1])
    os.environ.clear()
    os.environ.update({"HOME": config["workdir"], "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8",
                       "OMP_NUM_THREADS": "1"})


def _wipe(folders: list[str]) -> list[str]:
    """Empty every writable folder, best effort (folders the submission made unreadable are its own, so
    they are made readable again first); returns what is left (the jail is then not clean: replaced)."""
    for base in folders:
        stack = [os.path.join(base, name) for name in _listdir(base)]
        emptied: list[str] = []  # folders to remove once their entries are gone, deepest last
        while stack:
            path = stack.pop()
            try:
                if os.path.isdir(path) and not os.path.islink(path):
                    os.chmod(path, 0o700)
                    emptied.append(path)
                    stack.extend(os.path.join(path, name) for name in _listdir(path))
                else:
                    os.unlink(path)
            except OSError:
                pass
        for path in reversed(emptied):
            try:
                os.rmdir(path)
            except OSError:
                pass
    return [f"{base}/{name}" for base in folders for name in _listdir(base)]


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except OSError:
        return []


def _leftovers(config: dict[str, Any], source_fd: int) -> list[str]:
    """What would outlive the submission if the jail graded another one: files in its writable folders,
    SysV IPC objects in its IPC namespace, unread bytes on the source pipe."""
    left = _wipe(config["wipe"])
    if config.get("namespace"):
        for kind in ("shm", "sem", "msg"):
            try:
                with open(f"/proc/sysvipc/{kind}", encoding="ascii") as fh:
                    if len(fh.read().strip().splitlines()) > 1:
                        left.append(f"SysV {kind} objects")
            except OSError:
                pass
    import fcntl
    import termios

    try:
        unread = int.from_bytes(fcntl.ioctl(source_fd, termios.FIONREAD, b"\0\0\0\0"), "little")
    except OSError:
        unread = 0
    if unread:
        left.append(f"{unread} unread bytes of source")
    return left


def _kill_everyone_else(config: dict[str, Any]) -> None:
    """SIGKILL every other process of the jail and reap them all (as its PID 1: every process in the
    namespace; without namespaces only the forks' own process groups were reached, by ``run_in_fork``)."""
    if config.get("namespace") and os.getpid() == 1:
        try:
            os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            if os.waitpid(-1, 0 if config.get("namespace") else os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def serve(config_path: str, control: int, source_fd: int, channel: int, status: int) -> None:
    """The init's loop: one request per submission (module docstring)."""
    with open(config_path, encoding="utf-8") as fh:
        config = json.load(fh)
    _prepare(config)
    _wipe(config["wipe"])
    checks: list[dict[str, Any]] = []
    reader = protocol.LineReader()
    while True:
        chunk = os.read(control, 1 << 20)
        if not chunk:
            return
        for job in reader.feed(chunk):
            if isinstance(job, protocol.ProtocolError) or not isinstance(job, dict):
                raise SystemExit(f"bad request from the grader: {job}")
            t0 = time.monotonic()
            if "checks" in job:  # else the same checks as the last job (same key): sent once per run
                checks = job["checks"]
            token = str(job["job"])
            done: dict[str, Any] = {"job": token, "done": True}
            folder = os.path.join(config["workdir"], f"job-{token}")
            try:
                os.mkdir(folder, 0o700)
                os.chdir(folder)
            except OSError as exc:
                done["failed"] = f"the job's folder could not be made: {exc.strerror}"
            t1 = time.monotonic()
            if "failed" not in done:
                ended = grade_job(job, checks, folder, source_fd, channel)
                if "source" in ended:
                    done["failed"] = ended.pop("source")
                done["ended"] = ended
            t2 = time.monotonic()
            os.chdir("/")
            _kill_everyone_else(config)
            try:
                left = _leftovers(config, source_fd)
            except Exception as exc:  # noqa: BLE001 - whatever went wrong, the jail is not clean
                left = [f"the clean-up failed ({type(exc).__name__})"]
            done.update(clean=not left, left=left[:5], seconds={
                "setup": round(t1 - t0, 4), "checks": round(t2 - t1, 4), "cleanup": round(time.monotonic() - t2, 4)})
            os.write(status, _encode(done))


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
    os._exit(0)  # no interpreter teardown: the jail ends as soon as the grader hangs up
