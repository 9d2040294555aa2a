"""Running a submission's checks in a jail, and collecting only plain data from it.

As root with util-linux ``unshare`` (these machines): new mount, network and PID namespaces
(``--kill-child``: when the jail's init dies, everything in it dies); inside, before dropping
privileges, the jail's ``/mnt`` is bound to a fresh folder holding only the submission, the
harness and the plan, the interpreter and its packages are bound read-only, and tmpfs hides
``/tmp``, ``/work``, ``/home`` and ``/srv`` (other submissions, results, the gradebook). Then
``setpriv`` drops to a fresh unprivileged uid/gid (one per jail) with no capabilities and ``no_new_privs``; the harness sets
rlimits (CPU, address space, file size, open files, processes, core) and runs each check in a fork
with its own time limit. cgroup v1 memory/pids groups are added when available. Without root the
same harness runs as a plain child process in its own session with the same rlimits (weaker:
no namespaces) and the report says so.

Results come back on a pipe passed as a file descriptor (never stdout); stdout/stderr are captured
to files, truncated, and shown as feedback.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HARNESS = Path(__file__).with_name("harness.py")
# Each jail runs under its own uid (no passwd entry needed): RLIMIT_NPROC counts processes per uid, so a
# fork spray in one submission cannot starve another graded beside it.
UID_BASE, UID_SPAN = 200_000, 800_000
_ISSUED_UIDS: set[int] = set()
OUTPUT_LIMIT = 64 * 1024          # bytes of stdout/stderr kept as feedback
CHANNEL_LIMIT = 32 * 2**20
DEFAULT_LIMITS = {"cpu": 60, "fsize": 2 * 2**20, "nofile": 64, "nproc": 64, "core": 0}
# one BLAS thread: the checks' matrices are tiny, and a BLAS thread pool in the jail's init would be shut down
# and restarted around every fork (and count against the jail's process limit)
JAIL_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1"}
HIDDEN = ("/tmp", "/work", "/home", "/srv", "/var/tmp", "/dev/shm", "/run")


@dataclass
class SandboxResult:
    records: dict[str, dict[str, Any]]
    stdout: str
    stderr: str
    seconds: float
    isolation: str
    killed: str = ""
    notes: list[str] = field(default_factory=list)


def _jail_uid(tag: str) -> int:
    """The uid of a new jail (from its random tag), remembered so that this process can tell its own jails'
    processes from those of another grader on the machine."""
    uid = UID_BASE + int(tag, 16) % UID_SPAN
    _ISSUED_UIDS.add(uid)
    return uid


def issued_uids() -> frozenset[int]:
    """Every jail uid this process has handed out (what a leftover check should look for, and nothing else)."""
    return frozenset(_ISSUED_UIDS)


def isolation_available() -> str:
    """'namespace' (root + unshare + setpriv), else 'process'."""
    if os.geteuid() == 0 and shutil.which("unshare") and shutil.which("setpriv") and sys.platform == "linux":
        return "namespace"
    return "process"


def jail_command(box: Path, uid: int, harness_args: str, setup: str = "") -> list[str]:
    """unshare + mounts + setpriv: the jail's command line (see the module docstring)."""
    py_bin = f"/mnt/py/bin/{Path(sys.executable).resolve().name}"
    hide = " && ".join(f"mount -t tmpfs -o size=16m tmpfs {d}" for d in HIDDEN if Path(d).is_dir())
    script = (f"mount --bind {box} /mnt && mount --bind {Path(sys.base_prefix).resolve()} /mnt/py && "
              f"mount -o remount,bind,ro /mnt/py && mount --bind {_site_packages()} /mnt/site && "
              f"mount -o remount,bind,ro /mnt/site && {hide} && mount -t proc proc /proc && {_work_tmpfs(uid)} && "
              f"{setup + ' && ' if setup else ''}cd /mnt/work && exec setpriv --reuid={uid} --regid={uid} "
              f"--clear-groups --no-new-privs --bounding-set=-all --inh-caps=-all -- {py_bin} -I -S "
              f"/mnt/harness/harness.py {harness_args}")
    return ["unshare", "--mount", "--net", "--pid", "--fork", "--kill-child", "--propagation", "private", "--",
            "/bin/sh", "-c", script]


WORK_SIZE = "64m"  # the submission's folder is a tmpfs of this size: a file bomb fills RAM-backed 64 MB, not a disk


def _work_tmpfs(uid: int) -> str:
    return f"mount -t tmpfs -o size={WORK_SIZE},mode=0700,uid={uid},gid={uid} tmpfs /mnt/work"


def _site_packages() -> str:
    import numpy

    return str(Path(numpy.__file__).resolve().parents[1])


def _cgroups(tag: str, memory: int, pids: int) -> list[Path]:
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


def _in_cgroups(groups: list[Path], cmd: list[str]) -> list[str]:
    """``cmd`` started by a shell that first moves itself into ``groups`` (the jail's processes are all
    born inside them). A shell instead of ``preexec_fn``: Popen without it uses vfork, 0.3 ms instead of
    ~10 ms from a large grader process."""
    if not groups:
        return cmd
    join = 'for g in $1; do echo $$ > "$g/cgroup.procs" 2>/dev/null; done; shift; exec "$@"'
    return ["/bin/sh", "-c", join, "join", " ".join(str(g) for g in groups), *cmd]


def _remove(groups: list[Path]) -> None:
    for g in groups:
        for _ in range(50):
            try:
                g.rmdir()
                break
            except OSError:
                time.sleep(0.02)


def _box(kind: str) -> Path:
    """A fresh temp folder named after this grader's pid, after removing those of graders that died
    (a grader killed mid-batch cannot run its own clean-up)."""
    tmp = Path(tempfile.gettempdir())
    for stale in list(tmp.glob("peftcalc-box-*")) + list(tmp.glob("peftcalc-out-*")):
        parts = stale.name.split("-")
        if len(parts) >= 4 and parts[2].isdigit() and not Path(f"/proc/{parts[2]}").exists():
            shutil.rmtree(stale, ignore_errors=True)
    for ctrl in ("memory", "pids"):
        for group in Path("/sys/fs/cgroup", ctrl).glob("peftcalc-*"):
            pid = group.name.split("-")[1]
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                try:
                    group.rmdir()
                except OSError:
                    pass
    return Path(tempfile.mkdtemp(prefix=f"peftcalc-{kind}-{os.getpid()}-"))


def _stage(box: Path) -> Path:
    """The jail's folder on the host: the harness, mount points for the interpreter and packages, work/."""
    os.chmod(box, 0o755)
    for sub in ("work", "harness", "py", "site"):
        (box / sub).mkdir(exist_ok=True)
    shutil.copy(HARNESS, box / "harness" / "harness.py")
    return box / "work"


def _limits(memory: int, torch: bool) -> dict[str, int]:
    """rlimits of a jail; no address-space limit with torch, which breaks under RLIMIT_AS (pytorch#16558)."""
    return {**DEFAULT_LIMITS, **({} if torch else {"as": memory})}


def run_plan(plan: dict[str, Any], files: dict[str, bytes], *, memory: int = 2 * 2**30,
             isolation: str | None = None, wall: float | None = None) -> SandboxResult:
    """Run ``plan`` (checks on ``files['submission.py']``) in a jail; returns one record per check id."""
    isolation = isolation or isolation_available()
    box = _box("box")
    out_dir = _box("out")
    tag = uuid.uuid4().hex[:12]
    uid = _jail_uid(tag)
    groups: list[Path] = []
    started = time.monotonic()
    notes: list[str] = []
    try:
        work = _stage(box)
        src = box / "src" if isolation == "namespace" else work
        src.mkdir(exist_ok=True)
        for name, data in files.items():
            (src / Path(name).name).write_bytes(data)
        inside = "/mnt" if isolation == "namespace" else str(box)
        full_plan = {**plan, "module": f"{inside}/work/submission.py", "workdir": f"{inside}/work",
                     "sys_path": [f"{inside}/site"] if isolation == "namespace" else [_site_packages()],
                     "limits": {**_limits(memory, bool(plan.get("preload_torch"))), **plan.get("limits", {})}}
        (box / "plan.json").write_text(json.dumps(full_plan))
        r, w = os.pipe()
        stdout = open(out_dir / "stdout", "wb")
        stderr = open(out_dir / "stderr", "wb")
        if isolation == "namespace":
            cmd = jail_command(box, uid, f"/mnt/plan.json {w}",
                               setup=f"cp /mnt/src/* /mnt/work/ && chown -R {uid}:{uid} /mnt/work")
        else:
            cmd = [sys.executable, "-I", "-S", str(box / "harness" / "harness.py"), str(box / "plan.json"), str(w)]
            notes.append("isolation: plain child process (no root for namespaces): rlimits and a session only")
        if isolation == "namespace":
            groups = _cgroups(tag, memory, 256)
        proc = subprocess.Popen(_in_cgroups(groups, cmd), stdin=subprocess.DEVNULL, stdout=stdout, stderr=stderr,
                                pass_fds=(w,), cwd=str(work), env=JAIL_ENV, start_new_session=True)
        os.close(w)
        n_checks = len(plan["checks"])
        limit = wall if wall is not None else n_checks * float(plan.get("timeout", 10)) + 15
        records, killed = _collect(r, proc, started + limit)
        if isolation == "namespace":
            _sweep({uid})
        stdout.close()
        stderr.close()
        return SandboxResult(records, _tail(out_dir / "stdout"), _tail(out_dir / "stderr"),
                             time.monotonic() - started, isolation, killed, notes)
    finally:
        _remove(groups)
        shutil.rmtree(box, ignore_errors=True)
        shutil.rmtree(out_dir, ignore_errors=True)


def take_records(line: Any, records: dict[str, dict[str, Any]]) -> None:
    """Add the check records of one channel line — a single record, or ``{"result": {"batch": [...]}}`` from
    the one-fork fast path — to ``records``; the first record of a check id wins, anything malformed is
    skipped (the check then has no result)."""
    if not isinstance(line, dict):
        return
    result = line.get("result")
    batch = result.get("batch") if isinstance(result, dict) else None
    for record in batch if isinstance(batch, list) else [line]:
        rid = record.get("id") if isinstance(record, dict) else None
        if isinstance(rid, str) and rid not in records:
            records[rid] = record


def _collect(fd: int, proc: subprocess.Popen[bytes], deadline: float) -> tuple[dict[str, dict[str, Any]], str]:
    import select

    buf = b""
    total = 0
    records: dict[str, dict[str, Any]] = {}
    killed = ""
    done = False
    while not done:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            killed = "wall-clock limit of the submission exceeded"
            break
        ready, _, _ = select.select([fd], [], [], min(remaining, 0.1))
        if not ready:
            if proc.poll() is not None:
                break
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        total += len(chunk)
        if total > CHANNEL_LIMIT:
            killed = "result channel flooded"
            break
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            try:
                record = json.loads(line)
            except ValueError:
                continue
            if record.get("done"):
                done = True
                break
            take_records(record, records)
    os.close(fd)
    if done:  # the harness exits right after "done": let unshare reap it (killing unshare orphans it)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    _kill(proc)
    return records, killed


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the jail (its PID namespace dies with its init) and the session, then reap."""
    for target in (lambda: os.killpg(proc.pid, signal.SIGKILL), proc.kill):
        try:
            target()
        except (ProcessLookupError, PermissionError, OSError):
            pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def _sweep(uids: set[int], wait: float = 5.0) -> None:
    """Kill whatever still runs under the jails' uids and wait until their processes are gone (zombies are
    reaped by the dying namespace)."""
    wanted = {str(uid) for uid in uids}
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        alive = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                status = (entry / "status").read_text()
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if fields.get("Uid", "").split()[:1] and fields["Uid"].split()[0] in wanted:
                alive.append(int(entry.name))
                try:
                    os.kill(int(entry.name), signal.SIGKILL)
                except OSError:
                    pass
        if not alive:
            return
        time.sleep(0.05)


def _tail(path: Path) -> str:
    size = path.stat().st_size
    with open(path, "rb") as fh:
        data = fh.read(OUTPUT_LIMIT)
    text = data.decode("utf-8", "replace")
    return text + (f"\n… ({size - OUTPUT_LIMIT:,} more bytes truncated)" if size > OUTPUT_LIMIT else "")


def _widen(fd: int, size: int = 1 << 20) -> None:
    """A 1 MB pipe buffer (default 64 kB): a request (source + the run's checks, ~80 kB for stage9) is
    written without waiting for the jail to read it — e.g. while it still imports numpy — so one thread
    can hand out work to every jail."""
    import fcntl

    try:
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), size)
    except OSError:
        pass


@dataclass
class _Job:
    """The submission a warm jail is grading."""
    token: str
    started: float
    deadline: float
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    killed: str = ""


class WarmJail:
    """A jail started once and reused: numpy (and torch) are imported once, each submission is graded in
    forks of the jail's init, and between submissions the init kills every other process of the jail and
    empties every writable folder. One submission at a time (``submit`` then ``poll``, or ``run``).
    Namespace isolation only (as root)."""

    def __init__(self, *, preload_torch: bool = False, memory: int = 2 * 2**30) -> None:
        self.tag = uuid.uuid4().hex[:12]
        self.uid = _jail_uid(self.tag)
        self.box = _box("box")
        self.out_dir = _box("out")
        self.groups: list[Path] = []
        self.preload_torch = preload_torch
        self.memory = memory
        self.proc: subprocess.Popen[bytes] | None = None
        self.last_timing: dict[str, float] | None = None  # the jail's own setup/checks/cleanup seconds
        self.job: _Job | None = None
        self._start()

    def _start(self) -> None:
        box = self.box
        work = _stage(box)
        plan = {"workdir": "/mnt/work", "sys_path": ["/mnt/site"], "preload_torch": self.preload_torch,
                "limits": _limits(self.memory, self.preload_torch)}
        (box / "plan.json").write_text(json.dumps(plan))
        ctl_r, self.ctl_w = os.pipe()
        self.ch_r, ch_w = os.pipe()
        _widen(self.ctl_w)
        self.groups = _cgroups(self.tag, self.memory, 256)
        self.stdout = open(self.out_dir / "stdout", "ab")
        self.proc = subprocess.Popen(
            _in_cgroups(self.groups, jail_command(box, self.uid, f"--serve /mnt/plan.json {ctl_r} {ch_w}")),
            stdin=subprocess.DEVNULL, stdout=self.stdout, stderr=self.stdout, pass_fds=(ctl_r, ch_w), cwd=str(work),
            env=JAIL_ENV, start_new_session=True)
        os.close(ctl_r)
        os.close(ch_w)
        self.buf = b""
        self.checks_key: str | None = None  # a fresh jail holds no checks

    def submit(self, plan: dict[str, Any], source: bytes) -> None:
        """Send one submission to the jail; its result comes from :meth:`poll` (one job at a time)."""
        import base64

        started = time.monotonic()
        request = {"job": uuid.uuid4().hex, "source": base64.b64encode(source).decode(),
                   "timeout": plan.get("timeout", 10), "budget": plan.get("budget", 60)}
        key = plan.get("checks_key")
        if key is None or key != self.checks_key:  # the jail keeps the last checks it was sent, by key
            request["checks"] = plan["checks"]
        request["checks_key"] = key
        self.checks_key = key
        deadline = started + float(plan.get("budget", 60)) + 2 * float(plan.get("timeout", 10)) + 15
        self.job = _Job(request["job"], started, deadline)
        try:
            os.write(self.ctl_w, (json.dumps(request) + "\n").encode())
        except OSError:
            self.job.killed = "the jail was not running"

    def fileno(self) -> int:
        """The jail's result channel (for ``select``)."""
        return self.ch_r

    def poll(self) -> SandboxResult | None:
        """Take what the jail has written so far, without blocking; the submission's result once the jail
        is done with it, or once it broke or ran out of time (the jail is then restarted), else None."""
        import select

        job = self.job
        if job is None:
            raise RuntimeError("no submission was sent to this jail")
        while not job.killed and select.select([self.ch_r], [], [], 0)[0]:
            chunk = os.read(self.ch_r, 1 << 16)
            if not chunk:
                job.killed = "the jail ended unexpectedly"
                break
            self.buf += chunk
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if record.get("job") != job.token:
                    continue
                if record.get("done"):
                    self.last_timing = record.get("seconds")
                    return self._finish(str(record.get("stdout", "")), str(record.get("stderr", "")))
                take_records(record, job.records)
        if not job.killed and time.monotonic() >= job.deadline:
            job.killed = "wall-clock limit of the submission exceeded"
        if not job.killed and self.proc is not None and self.proc.poll() is not None:
            job.killed = "the jail ended unexpectedly"
        return self._finish("", "") if job.killed else None

    def _finish(self, out: str, err: str) -> SandboxResult:
        job, self.job = self.job, None
        assert job is not None
        if job.killed:
            self.restart()
        return SandboxResult(job.records, out, err, time.monotonic() - job.started, "namespace (warm)", job.killed)

    def run(self, plan: dict[str, Any], source: bytes) -> SandboxResult:
        """Grade one submission in the warm jail and wait for the result."""
        import select

        self.submit(plan, source)
        while True:
            result = self.poll()
            if result is not None:
                return result
            select.select([self.ch_r], [], [], 0.1)

    def restart(self) -> None:
        self.close(keep_box=True)
        self._start()

    def hang_up(self) -> None:
        """EOF on the jail's control pipe: its init returns and exits (``close`` waits for that)."""
        if self.proc is not None:
            for fd in (self.ctl_w, self.ch_r):
                try:
                    os.close(fd)
                except OSError:
                    pass

    def close(self, keep_box: bool = False) -> None:
        """Stop the jail and remove every trace of it."""
        self.stop()
        _sweep({self.uid})
        self.discard(keep_box)

    def stop(self) -> None:
        """Hang up, wait for the jail's init to exit (its namespace dies with it), kill what is left."""
        if self.proc is not None:
            self.hang_up()
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                pass
            _kill(self.proc)
            self.stdout.close()
            self.proc = None

    def discard(self, keep_box: bool = False) -> None:
        """Remove the jail's cgroups and (unless ``keep_box``) its folders; after ``stop`` and a sweep."""
        _remove(self.groups)
        self.groups = []
        if not keep_box:
            shutil.rmtree(self.box, ignore_errors=True)
            shutil.rmtree(self.out_dir, ignore_errors=True)


class JailPool:
    """``jobs`` warm jails for a batch (``grader.batch`` drives them from one thread), closed together."""

    def __init__(self, jobs: int, *, preload_torch: bool = False) -> None:
        self.jails = [WarmJail(preload_torch=preload_torch) for _ in range(max(1, jobs))]

    def close(self) -> None:
        for jail in self.jails:  # all inits exit at once; one sweep of /proc for all their uids
            jail.hang_up()
        for jail in self.jails:
            jail.stop()
        _sweep({jail.uid for jail in self.jails})
        for jail in self.jails:
            jail.discard()
