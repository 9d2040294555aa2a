"""Inside the jail: the serve loop of the jail's init and the forks that run a submission's checks.

``python -I -S harness.py CONFIG.json CONTROL_FD SOURCE_FD CHANNEL_FD``. Three kinds of process, and what
each ever holds:

- the **init** (the jail's PID 1; long-lived): imports numpy (and torch) once, then per request forks a
  job process and waits for it. It never reads the source pipe, a submission's files, output or results:
  no later fork can find an earlier submission in the memory it inherits from the init;
- the **job process** (one per submission, dies with it): reads the source from the source pipe, writes
  it to the job's folder, runs the checks in forks, validates what they send back and writes the records
  on the channel. Not dumpable: the submission's own forks cannot ptrace it or open its descriptors;
- the **check forks**: the submission's code runs only here, with stdio and their own result pipe open.

After each job the init kills every other process of the jail, empties every writable folder and says in
its ``done`` line whether the jail is clean (nothing left on disk, no IPC object, no unread source); the
grader discards a jail that is not. Every line read here goes through ``protocol``'s bounded codec.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import signal
import sys
import time
from typing import Any

try:  # in the grader's process (benchmarks, doctests)
    from grader.sandbox import ops, protocol
except ImportError:  # in the jail: the copies beside this file (-I keeps the script's folder off sys.path)
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import ops  # type: ignore[no-redef]
    import protocol  # type: ignore[no-redef]

MAX_RESULT_BYTES = 8 * 2**20  # what one check fork may send back
PRELOAD = ("numpy", "numpy.random", "numpy.linalg", "random", "math")
# bound before any student code runs: patching os.write or json.dumps later cannot reach these
_write, _exit, _encode = os.write, os._exit, protocol.encode_line
_FD_LIMIT = 1 << 16  # lowered to RLIMIT_NOFILE in _prepare(): closing 65,536 descriptors per fork costs ~10 ms


def _child_setup(w: int) -> None:
    """In a fork about to run student code: only stdio and the fork's own result pipe stay open (the
    channel and the source pipe are out of reach), and the fork leads its own process group."""
    os.closerange(3, w)
    os.closerange(w + 1, _FD_LIMIT)
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    if "numpy.random" in sys.modules:  # preloaded: without this every fork would draw the same numbers
        sys.modules["numpy.random"].seed(int.from_bytes(os.urandom(4), "little"))


def _read_child(r: int, pid: int, deadline: float) -> tuple[bytes, bool, int | None]:
    """Everything the fork wrote (bounded) until EOF or the deadline; then kill its group and reap it."""
    import select

    chunks: list[bytes] = []
    size = 0
    status = None

    def take(chunk: bytes) -> None:
        nonlocal size
        if size < MAX_RESULT_BYTES:
            chunks.append(chunk)
        size += len(chunk)

    # read until EOF or until the fork has exited (a grandchild it left behind may hold the pipe open)
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        ready, _, _ = select.select([r], [], [], min(remaining, 0.02))
        if ready:
            chunk = os.read(r, 65536)
            if not chunk:
                break
            take(chunk)
        done, st = os.waitpid(pid, os.WNOHANG)
        if done == pid:
            status = st
            while select.select([r], [], [], 0)[0]:
                chunk = os.read(r, 65536)
                if not chunk:
                    break
                take(chunk)
            break
    timed_out = status is None and time.monotonic() >= deadline
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
    os.close(r)
    _reap()
    return b"".join(chunks)[:MAX_RESULT_BYTES], timed_out, status


def _last_line(data: bytes) -> Any:
    """The fork's final line, decoded by the bounded codec (None if there is none or it does not decode):
    the harness writes it as the fork's last act, so anything the submission wrote before is superseded."""
    lines = [ln for ln in data.split(b"\n") if ln.strip()]
    try:
        return protocol.decode_line(lines[-1]) if lines else None
    except protocol.ProtocolError:
        return None


def _flush() -> None:
    """What the submission printed reaches the output files (os._exit skips Python's buffers)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:  # noqa: BLE001 - a replaced or broken stream is the submission's business
            pass


def run_batch_in_fork(module_path: str, checks: list[dict[str, Any]], limit: float) -> list[dict[str, Any]] | None:
    """Fast path: every check in one fork, which writes all records as one final line ``{"batch": [...]}``.
    Returns the records once validated (the schema, one per check, in order); None when the fork hangs,
    dies or leaves no valid final line — the caller then runs each check in its own fork."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _child_setup(w)
        try:
            try:
                module = ops.load_module(module_path)
            except BaseException as exc:  # noqa: BLE001
                why = f"importing the submission failed: {ops.describe_error(exc)}"
                out = [{"id": c["id"], "ok": False, "error": why} for c in checks]
            else:
                out = ops.run_all(module, checks)
            data = _encode({"batch": out})
            _flush()
        except BaseException:  # noqa: BLE001 - unserialisable results: let the careful path sort it out
            _exit(3)
        try:
            _write(w, data[:MAX_RESULT_BYTES])
        finally:
            _exit(0)
    os.close(w)
    data, timed_out, status = _read_child(r, pid, time.monotonic() + limit)
    if timed_out or status is None or not os.WIFEXITED(status) or os.WEXITSTATUS(status) != 0:
        return None
    line = _last_line(data)
    batch = line.get("batch") if isinstance(line, dict) else None
    if not isinstance(batch, list) or len(batch) != len(checks):
        return None
    try:
        records = [protocol.record_from(b).to_json() for b in batch]
    except protocol.ProtocolError:
        return None
    return records if [r["id"] for r in records] == [c["id"] for c in checks] else None


def run_check_in_fork(module_path: str, check: dict[str, Any], timeout: float) -> dict[str, Any]:
    """Fork; the child imports the submission and runs one check; the parent enforces the time limit."""
    r, w = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # child: student code runs only here
        os.close(r)
        _child_setup(w)
        try:
            module = ops.load_module(module_path)
            payload = {"id": check["id"], "ok": True, "values": ops.run_ops(module, check["ops"])}
        except BaseException as exc:  # noqa: BLE001 - anything the student does is reported
            payload = {"id": check["id"], "ok": False, "error": ops.describe_error(exc)}
        _flush()
        try:
            data = _encode(payload)
        except (TypeError, ValueError):
            data = _encode({"id": check["id"], "ok": False, "error": "result could not be serialised"})
        try:
            _write(w, data[:MAX_RESULT_BYTES])
        finally:
            _exit(0)
    os.close(w)
    data, timed_out, status = _read_child(r, pid, start + timeout)
    try:
        record = protocol.record_from(_last_line(data)).to_json()
        if record["id"] != check["id"]:
            raise protocol.ProtocolError("wrong id")
    except protocol.ProtocolError:
        if timed_out:
            record = {"id": check["id"], "ok": False, "error": f"time limit {timeout:g} s exceeded"}
        elif status is not None and os.WIFSIGNALED(status):
            sig = os.WTERMSIG(status)
            name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else str(sig)
            record = {"id": check["id"], "ok": False, "error": f"crashed with signal {name}"}
        else:
            record = {"id": check["id"], "ok": False, "error": "the check ended without a result (exit mid-run?)"}
    record["seconds"] = round(time.monotonic() - start, 4)
    return record


def _reap() -> None:
    """As the jail's PID 1, orphans of the submission are ours: collect their exit statuses (no zombies)."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def grade_job(module_path: str, checks: list[dict[str, Any]], timeout: float, budget: float, emit: Any) -> None:
    """All checks of one submission: the one-fork fast path, else an import probe and one fork per check.
    ``emit`` gets ``{"batch": records}`` or ``{"record": record}`` messages."""
    started = time.monotonic()
    batch = run_batch_in_fork(module_path, checks, timeout)
    if batch is not None:
        emit({"batch": batch})
        return
    # careful path: import once on its own (a module that hangs, crashes or exits on import fails every
    # check once), then each check in its own fork with its own time limit
    verdict = run_check_in_fork(module_path, {"id": "__import__", "ops": []}, timeout)
    for check in checks:
        if not verdict.get("ok"):
            record = {"id": check["id"], "ok": False, "error": f"importing the submission failed: {verdict.get('error')}"}
        elif time.monotonic() - started > budget:
            record = {"id": check["id"], "ok": False,
                      "error": f"not run: the submission's time budget ({budget:g} s) is spent"}
        else:
            record = run_check_in_fork(module_path, check, timeout)
        emit({"record": record})


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


def lead_job(job: dict[str, Any], checks: list[dict[str, Any]], workdir: str, source_fd: int, channel: int) -> None:
    """The job process: one submission, from its source to its last record (see the module docstring)."""
    token = job["job"]

    def emit(message: dict[str, Any]) -> None:
        os.write(channel, _encode({**message, "job": token}))

    folder = os.path.join(workdir, f"job-{token}")
    os.mkdir(folder, 0o700)
    module_path = os.path.join(folder, "submission.py")
    fd = os.open(module_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        source = _read_source(source_fd, int(job["source_bytes"]), str(job["source_sha256"]))
        os.write(fd, source)
    finally:
        os.close(fd)
    del source
    os.close(source_fd)
    os.chdir(folder)
    grade_job(module_path, checks, float(job["check_seconds"]), float(job["budget_seconds"]), emit)


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
    """PR_SET_DUMPABLE 0 (inherited by every fork): processes of the same uid cannot ptrace the init or a
    job process, read their memory or open their /proc/PID/fd — so not the channel either."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE = 4
    except (OSError, AttributeError):
        pass


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


def _kill_everyone_else(config: dict[str, Any], leader: int) -> None:
    """SIGKILL every other process of the jail and reap them all (as its PID 1: every process in the
    namespace; without namespaces only the job's own process group can be reached)."""
    try:
        os.kill(-1 if config.get("namespace") and os.getpid() == 1 else -leader, signal.SIGKILL)
    except OSError:
        pass
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            os.waitpid(-1, 0)
        except ChildProcessError:
            return


def _wait_for_job(pid: int) -> None:
    """Until the job process exits; a submission that stops it (SIGSTOP, same uid) gets it continued at once,
    so that its own time limits still run out."""
    while True:
        _, status = os.waitpid(pid, os.WUNTRACED)
        if not os.WIFSTOPPED(status):
            return
        try:
            os.kill(pid, signal.SIGCONT)
        except OSError:
            pass


def serve(config_path: str, control: int, source_fd: int, channel: int) -> None:
    """The init's loop: one request per submission, each in its own job process (module docstring)."""
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
            pid = os.fork()
            if pid == 0:
                os.close(control)
                code = 0
                try:
                    lead_job(job, checks, config["workdir"], source_fd, channel)
                except BaseException as exc:  # noqa: BLE001 - reported; the grader regrades in a fresh jail
                    os.write(channel, _encode({"job": token, "failed": f"{type(exc).__name__}: {exc}"[:300]}))
                    code = 1
                _flush()
                _exit(code)
            t1 = time.monotonic()
            _wait_for_job(pid)
            t2 = time.monotonic()
            _kill_everyone_else(config, pid)
            try:
                left = _leftovers(config, source_fd)
            except Exception as exc:  # noqa: BLE001 - whatever went wrong, the jail is not clean
                left = [f"the clean-up failed ({type(exc).__name__})"]
            done = {"job": token, "done": True, "clean": not left, "left": left[:5],
                    "seconds": {"setup": round(t1 - t0, 4), "checks": round(t2 - t1, 4),
                                "cleanup": round(time.monotonic() - t2, 4)}}
            os.write(channel, _encode(done))


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]))
    os._exit(0)  # no interpreter teardown: the jail ends as soon as the grader hangs up
