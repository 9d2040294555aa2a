"""A jail: a process tree that grades submissions one at a time and sees only what the exercise needs.

One interface, :class:`Jail` (``submit`` then ``poll``, or ``run``); grading one submission alone is a
jail used once (:func:`run_once`). As root with util-linux (these machines) a jail is new mount, PID,
network, IPC and UTS namespaces whose root is a fresh tmpfs holding, read-only:

- ``/usr`` (libc, the dynamic loader's libraries, ``setpriv``) and the interpreter's prefix, with every
  ``site-packages``/``dist-packages`` folder in them covered by an empty tmpfs;
- ``/mnt/site``: only the packages the checks import (numpy, numpy.libs, and torch with what it imports
  when the plan preloads it), each bound on its own — never peftcalc, answers or grader, whichever way
  they are installed (a non-editable install puts ``grader/`` and its reference solutions beside numpy);
- ``/mnt/harness``: the harness, its ops and the protocol (copies), and the jail's config;
- ``/dev/{null,zero,random,urandom}`` and ``/etc/ld.so.cache``;

and, writable, tmpfs ``/mnt/work`` (owned by the jail's uid), ``/tmp``, ``/dev/shm`` and an mqueue fs: all
in RAM, inside the jail's mount namespace, gone with it. The old root is detached (``pivot_root``): no
host path — other submissions, the gradebook, /root, /etc — exists inside. Then ``setpriv`` drops to a
fresh uid (one per jail), no capabilities, ``no_new_privs``; the harness sets rlimits; memory and pids
cgroups (v1) are added when available. Without root the same harness runs as a plain child process with
the same rlimits and its own session (no namespaces: weaker) and the report says so.

A jail that fails, breaks the protocol, runs out of time or is not clean after a submission is discarded
and replaced; a submission whose jail failed (not its own fault, as far as can be told: the jail was not
running, died, or could not hand the source over) is regraded once in a fresh jail.
"""

from __future__ import annotations

import fcntl
import glob
import json
import os
import re
import select
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from hashlib import sha256
from pathlib import Path
from typing import Any

from grader.sandbox import host
from grader.sandbox.protocol import (DEFAULT_LIMITS, MAX_JOB_BYTES, Limits, LineReader, Plan, ProtocolError,
                                     encode_line, record_from)

HERE = Path(__file__).parent
JAIL_FILES = ("harness.py", "ops.py", "helpers_numpy.py", "helpers_torch.py", "readings.py", "protocol.py")  # what the jail gets of the grader: these copies only
NEVER_IN_JAIL = ("peftcalc", "answers", "grader")
# one BLAS thread: the checks' matrices are tiny, and a BLAS thread pool in the jail's init would be shut down
# and restarted around every fork (and count against the jail's process limit)
JAIL_ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1"}
DEVICES = ("null", "zero", "random", "urandom")
# control characters in what a submission prints are shown escaped: feedback ends up in terminals
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
PIPE_BYTES = 1 << 20  # a request (~80 kB with stage9's checks) and a source are written without waiting


@dataclass
class SandboxResult:
    """What came back from a jail for one submission: one record per check id, its output (truncated),
    and why it ended early (``killed``, empty if it did not)."""
    records: dict[str, dict[str, Any]]
    stdout: str
    stderr: str
    seconds: float
    isolation: str
    killed: str = ""
    notes: list[str] = field(default_factory=list)


@lru_cache(maxsize=4)
def jail_packages(torch: bool) -> tuple[Path, ...]:
    """The site-packages entries the jail's init imports (numpy, torch and what they load, plus their
    ``.libs`` folders of bundled shared libraries), found by importing them in a clean interpreter."""
    import numpy

    site = Path(numpy.__file__).resolve().parents[1]
    names = "numpy, numpy.random, numpy.linalg" + (", torch" if torch else "")
    probe = (f"import sys; sys.path.insert(0, {str(site)!r}); import {names}; print('\\n'.join(sorted("
             "{getattr(m, '__file__', None) or '' for m in list(sys.modules.values())})))")
    out = subprocess.run([sys.executable, "-I", "-S", "-c", probe], capture_output=True, text=True, check=True,
                         env=JAIL_ENV).stdout
    tops = {Path(f).resolve().relative_to(site).parts[0] for f in out.splitlines()
            if f and Path(f).resolve().is_relative_to(site)}
    tops |= {f"{t}.libs" for t in tops if (site / f"{t}.libs").is_dir()}
    leaked = {t for t in tops if t.split(".")[0] in NEVER_IN_JAIL or t.startswith("__editable__")}
    if leaked:  # numpy or torch importing the grader would be a bug of ours, never something to allow
        raise RuntimeError(f"the jail's packages would include {sorted(leaked)}")
    return tuple(site / t for t in sorted(tops))


def _python_dirs() -> tuple[Path, str]:
    """(the interpreter's prefix, its binary's name) as the jail runs it: the real prefix at its own path
    (its RUNPATH names libpython there)."""
    return Path(sys.base_prefix).resolve(), Path(sys.executable).resolve().name


def _hidden_site_dirs(prefix: Path) -> list[str]:
    """Every site-packages/dist-packages folder under the trees the jail binds (/usr, the prefix)."""
    found: set[str] = set()
    for base in {"/usr", "/usr/local", str(prefix)}:
        for pattern in ("lib/python3*/site-packages", "lib/python3*/dist-packages", "lib/python3/dist-packages"):
            found.update(p for p in glob.glob(f"{base}/{pattern}") if os.path.isdir(p) and not os.path.islink(p))
    return sorted(found)


ISOLATION_NOTES = {
    "user": "isolation: a child process under a jail uid with seccomp (no namespaces in this container): it sees "
            "what the host lets any user see",
    "process": "isolation: plain child process (not root: no namespaces, no jail uid): rlimits and a session only",
}


def namespace_command(box: Path, uid: int, limits: Limits, *, torch: bool, fds: tuple[int, ...]) -> list[str]:
    """unshare + the jail's root + setpriv: the command that starts a namespace jail (module docstring)."""
    prefix, py = _python_dirs()
    q = shlex.quote
    root = box / "root"
    root.mkdir()
    top_links = []
    for name in ("bin", "lib", "lib64", "lib32", "libx32", "sbin"):
        p = Path("/") / name
        if p.is_symlink():
            top_links.append(f"ln -s {q(os.readlink(p))} {q(str(root / name))}")
        elif p.is_dir():
            top_links += [f"mkdir {q(str(root / name))}", f"bind_ro {q(str(p))} {q(str(root / name))}"]
    trees = ["/usr"] + ([] if prefix.is_relative_to("/usr") else [str(prefix)])
    site_binds = []
    for entry in jail_packages(torch):
        target = q(str(root / "mnt" / "site" / entry.name))
        site_binds += [f"mkdir {target}" if entry.is_dir() else f"touch {target}", f"bind_ro {q(str(entry))} {target}"]
    dev = [line for d in DEVICES for line in (f"touch dev/{d}", f"mount --bind /dev/{d} dev/{d}")]
    fs = "nosuid,nodev"
    # one command a line: under ``set -e`` a failure anywhere stops the jail before it runs anything
    # (a failure inside an ``a && b`` list would not)
    lines = [
        "set -e",
        "PATH=/usr/sbin:/usr/bin:/sbin:/bin",
        'bind_ro() { mount --bind "$1" "$2"; mount -o remount,bind,ro,nosuid,nodev "$2"; }',
        f"mount -t tmpfs -o size=1m,mode=755 jail {q(str(root))}",
        f"cd {q(str(root))}",
        "mkdir -p .old usr dev/shm dev/mqueue proc tmp etc mnt/work mnt/site mnt/harness",
        *top_links,
        *(line for t in trees for line in (f"mkdir -p {q(str(root) + t)}", f"bind_ro {q(t)} {q(str(root) + t)}")),
        *(f"mount -t tmpfs -o size=4k,mode=555,ro empty {q(str(root) + d)}" for d in _hidden_site_dirs(prefix)),
        "mount -t tmpfs -o size=1m,mode=755 site mnt/site",
        *site_binds,
        f"mount -o remount,ro,{fs} mnt/site",
        f"bind_ro {q(str(box / 'harness'))} mnt/harness",
        *dev,
        *(["touch etc/ld.so.cache", "bind_ro /etc/ld.so.cache etc/ld.so.cache"] if Path("/etc/ld.so.cache").exists() else []),
        f"mount -t tmpfs -o size={limits.tmp_bytes},nr_inodes={limits.inodes},mode=1777,{fs} tmp tmp",
        f"mount -t tmpfs -o size={limits.tmp_bytes},nr_inodes={limits.inodes},mode=1777,{fs} shm dev/shm",
        f"mount -t mqueue -o {fs},noexec mqueue dev/mqueue",
        f"mount -t tmpfs -o size={limits.work_bytes},nr_inodes={limits.inodes},mode=0700,uid={uid},gid={uid},{fs} work mnt/work",
        f"mount -t proc -o {fs},noexec proc proc",
        "mount -o remount,ro .",
        "pivot_root . .old",
        "umount -l /.old",
        "cd /mnt/work",
        f"exec setpriv --reuid={uid} --regid={uid} --clear-groups --no-new-privs --bounding-set=-all "
        f"--inh-caps=-all -- {q(str(prefix / 'bin' / py))} -I -S /mnt/harness/harness.py "
        "/mnt/harness/config.json " + " ".join(map(str, fds)),
    ]
    return ["unshare", "--mount", "--net", "--pid", "--ipc", "--uts", "--fork", "--kill-child",
            "--propagation", "private", "--", "/bin/sh", "-c", "\n".join(lines)]


def _widen(fd: int) -> None:
    try:
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), PIPE_BYTES)
    except OSError:
        pass
    os.set_blocking(fd, False)  # a jail that stopped reading fails its submission instead of blocking us


@dataclass
class _Job:
    """The submission a jail is grading."""
    token: str
    plan: Plan
    source: bytes
    started: float
    deadline: float
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    retried: str = ""   # why the first jail failed, once this is the regrade


class Jail:
    """A jail started once and reused: numpy (and torch) imported once, each submission graded in forks of
    the jail's init that die with it, the jail wiped and checked clean between submissions. One submission
    at a time (``submit`` then ``poll``, or ``run``); ``close`` when done (or use it as a context manager)."""

    def __init__(self, *, preload_torch: bool = False, isolation: str | None = None,
                 limits: Limits = DEFAULT_LIMITS) -> None:
        self.isolation = isolation or host.isolation_available()
        self.preload_torch, self.limits = preload_torch, limits
        self.proc: subprocess.Popen[bytes] | None = None
        self.job: _Job | None = None
        self.last_timing: dict[str, float] | None = None  # the jail's own setup/checks/cleanup seconds
        self.restarts = 0
        self._start()

    def _start(self) -> None:
        self.tag = uuid.uuid4().hex[:12]
        self.uid = host.jail_uid(self.tag)
        self.box = box = host.new_box()
        os.chmod(box, 0o755)
        (box / "harness").mkdir()
        for name in JAIL_FILES:
            shutil.copy(HERE / name, box / "harness" / name)
        namespace = self.isolation == "namespace"
        work = "/mnt/work" if namespace else str(box / "work")
        if not namespace:
            (box / "work").mkdir(mode=0o700)
            if self.isolation == "user":  # the jail's uid owns its work folder and nothing else
                os.chown(box / "work", self.uid, self.uid)
        site = "/mnt/site" if namespace else str(jail_packages(self.preload_torch)[0].parent)
        config = {"sys_path": [site], "preload_torch": self.preload_torch, "workdir": work, "namespace": namespace,
                  "seccomp": self.isolation != "process",
                  "rlimits": self.limits.rlimits(torch=self.preload_torch),
                  "wipe": [work, "/tmp", "/dev/shm", "/dev/mqueue"] if namespace else [work]}
        (box / "harness" / "config.json").write_text(json.dumps(config))
        ctl_r, self.ctl_w = os.pipe()
        src_r, self.src_w = os.pipe()
        self.ch_r, ch_w = os.pipe()   # records, from the forks that run the submission
        self.st_r, st_w = os.pipe()   # the init's word on each job; no fork holds it
        for fd in (self.ctl_w, self.src_w, ch_w):
            _widen(fd)
        os.set_blocking(ch_w, True)
        os.set_blocking(self.ch_r, False)
        self.out_paths = (box / "stdout", box / "stderr")
        # O_APPEND: emptied after each submission; 0600 and root's: the jail writes through the descriptors it
        # inherits, but cannot open the files again through /proc/self/fd to read them
        outs = [os.open(p, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600) for p in self.out_paths]
        fds = (ctl_r, src_r, ch_w, st_w)
        if namespace:
            self.groups = host.make_cgroups(self.tag, self.limits.memory_bytes, self.limits.cgroup_pids)
            cmd = host.in_cgroups(self.groups, namespace_command(box, self.uid, self.limits,
                                                                 torch=self.preload_torch, fds=fds))
        else:
            self.groups = []
            config_path = box / "harness" / "config.json"
            cmd = [sys.executable, "-I", "-S", str(box / "harness" / "harness.py"), str(config_path),
                   *map(str, fds)]
            if self.isolation == "user":  # root without namespaces: at least not root, and no way back
                cmd = ["setpriv", f"--reuid={self.uid}", f"--regid={self.uid}", "--clear-groups", "--no-new-privs",
                       "--bounding-set=-all", "--inh-caps=-all", "--", *cmd]
        try:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=outs[0], stderr=outs[1],
                                         pass_fds=fds, cwd=str(box), env=JAIL_ENV, start_new_session=True)
        finally:
            for fd in fds:
                os.close(fd)
            for out in outs:
                os.close(out)
        self.reader = LineReader(max_total=MAX_JOB_BYTES)
        self.status = LineReader()
        self.checks_key: str | None = None  # a fresh jail holds no checks

    def fds(self) -> tuple[int]:
        """What to ``select`` on while the jail works: its status pipe, where ``done`` comes (the channel is
        drained at every ``poll``; a fork that writes more than its 1 MB waits for the next one). One
        wake-up per submission, not two."""
        return (self.st_r,)

    def submit(self, plan: Plan, source: bytes) -> None:
        """Send one submission to the jail; its result comes from :meth:`poll`."""
        started = time.monotonic()
        self.job = _Job(uuid.uuid4().hex, plan, source, started, started + plan.limits.job_seconds)
        self._send()

    def _send(self) -> None:
        job = self.job
        assert job is not None
        request: dict[str, Any] = {"job": job.token, "checks_key": job.plan.checks_key,
                                   "source_bytes": len(job.source), "source_sha256": sha256(job.source).hexdigest(),
                                   "check_seconds": job.plan.limits.check_seconds,
                                   "budget_seconds": job.plan.limits.budget_seconds}
        if job.plan.checks_key != self.checks_key:  # the jail keeps the last checks it was sent, by key
            request["checks"] = job.plan.checks
        self.checks_key = job.plan.checks_key
        self.reader.reset()
        self.status.reset()
        self._failed = ""
        try:
            for fd, data in ((self.src_w, job.source), (self.ctl_w, encode_line(request))):
                if os.write(fd, data) != len(data):
                    raise BlockingIOError("short write")
        except OSError:
            self._failed = "the jail was not running"

    def poll(self) -> SandboxResult | None:
        """Take what the jail has written so far, without blocking: the submission's result once the jail
        is done with it or has broken or run out of time (it is then replaced), else None."""
        job = self.job
        if job is None:
            raise RuntimeError("no submission was sent to this jail")
        if self._failed:
            return self._jail_failed(self._failed)
        try:
            self._drain(job)
            while select.select([self.st_r], [], [], 0)[0]:
                chunk = os.read(self.st_r, 1 << 16)
                if not chunk:
                    return self._jail_failed("the jail ended unexpectedly")
                for message in self.status.feed(chunk):
                    if isinstance(message, dict) and message.get("job") == job.token and message.get("done") is True:
                        self._drain(job)  # every fork is dead: what they wrote is all in the pipe
                        return self._done(job, message)
                    raise ProtocolError("the jail's init sent something it never sends")
        except ProtocolError as exc:
            return self._finish(f"the submission broke the result protocol: {exc}", clean=False, drop=True)
        if time.monotonic() >= job.deadline:
            return self._finish("wall-clock limit of the submission exceeded", clean=False)
        if self.proc is not None and self.proc.poll() is not None:
            return self._jail_failed("the jail ended unexpectedly")
        return None

    def _drain(self, job: _Job) -> None:
        """Read and validate every record waiting on the channel (ProtocolError if one breaks the schema)."""
        while True:
            try:
                chunk = os.read(self.ch_r, 1 << 16)
            except BlockingIOError:
                return
            if not chunk:
                return
            for message in self.reader.feed(chunk):
                self._take(job, message)

    def _take(self, job: _Job, message: Any) -> None:
        """One line from the channel: a record or a batch of them, for this submission."""
        if isinstance(message, ProtocolError):
            raise message
        if not isinstance(message, dict):
            raise ProtocolError("a line that is not an object")
        if message.get("job") != job.token:
            return  # not this submission's token: a line no fork of it can have meant for it
        batch = message.get("batch") if "batch" in message else [message.get("record")]
        if not isinstance(batch, list):
            raise ProtocolError("a batch that is not a list")
        known = {c["id"] for c in job.plan.checks}
        for item in batch:
            record = record_from(item)
            if record.id not in known:
                raise ProtocolError(f"a record for an unknown check {record.id[:40]!r}")
            job.records[record.id] = record.to_json()  # the harness writes last: the last record of a check wins

    def _done(self, job: _Job, message: dict[str, Any]) -> SandboxResult | None:
        """The init's ``done``: how the forks that wrote nothing ended, and whether the jail is clean."""
        self.last_timing = message.get("seconds") if isinstance(message.get("seconds"), dict) else None
        if "failed" in message:
            return self._jail_failed(f"the jail could not grade it ({str(message['failed'])[:200]})")
        ended = message.get("ended") if isinstance(message.get("ended"), dict) else {}
        for check in job.plan.checks:
            why = ended.get(check["id"], ended.get("*"))
            if check["id"] not in job.records and isinstance(why, str):
                job.records[check["id"]] = {"id": check["id"], "ok": False, "error": why[:500]}
        left = message.get("left")
        return self._finish("", clean=message.get("clean") is True,
                            why=", ".join(map(str, left)) if isinstance(left, list) else "")

    def _jail_failed(self, why: str) -> SandboxResult | None:
        """The jail failed, not (as far as can be told) the submission: a fresh jail regrades it, once."""
        job = self.job
        assert job is not None
        if job.retried:
            return self._finish(f"{why} (and again in a fresh jail, after: {job.retried})", clean=False)
        self.restart()
        job.retried, job.records = why, {}
        job.started = time.monotonic()
        job.deadline = job.started + job.plan.limits.job_seconds
        self._send()
        return None

    def _finish(self, killed: str, *, clean: bool, drop: bool = False, why: str = "") -> SandboxResult:
        job, self.job = self.job, None
        assert job is not None
        if clean and self.isolation == "user":
            left = self._left_on_host()
            clean, why = not left, ", ".join(left) or why
        if not clean and self.proc is not None:
            host.kill(self.proc)  # before reading its output: nothing in it writes any more
        stdout, stderr = (self._output(p) for p in self.out_paths)
        notes = [] if self.isolation == "namespace" else [ISOLATION_NOTES[self.isolation]]
        if job.retried:
            notes.append(f"regraded in a fresh jail: the first one failed ({job.retried})")
        if not clean:
            self.restart()  # the next submission never meets what this one left
            if why:
                notes.append(f"the jail was replaced after this submission (it left: {why})")
        return SandboxResult({} if drop else job.records, stdout, stderr, time.monotonic() - job.started,
                             self.isolation, killed, notes)

    def _left_on_host(self) -> list[str]:
        """What a submission left outside its work folder, without namespaces to end it: processes under the
        jail's uid besides its init (a setsid daemon escapes the forks' process groups), files of that uid in
        the host's /tmp and /dev/shm. Any of it discards the jail (its replacement gets a fresh uid), and
        removes the files."""
        init = self.proc.pid if self.proc is not None else None
        left = [f"process {pid}" for pid in host.processes_of(self.uid, besides=init)]
        for path in host.files_of(self.uid):
            left.append(f"file {path}")
            try:
                shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink()
            except OSError:
                pass
        return left[:10]

    def _output(self, path: Path) -> str:
        """What the submission printed (its first ``output_bytes``), then the file is emptied for the next."""
        limit = self.limits.output_bytes
        try:
            with open(path, "rb") as fh:
                data = fh.read(limit + 1)
            size = path.stat().st_size
            os.truncate(path, 0)
        except OSError:
            return ""
        text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", data[:limit].decode("utf-8", "replace"))
        return text + (f"\n… ({size - limit:,} more bytes truncated)" if size > limit else "")

    def run(self, plan: Plan, source: bytes) -> SandboxResult:
        """Grade one submission and wait for the result."""
        self.submit(plan, source)
        while True:
            result = self.poll()
            if result is not None:
                return result
            select.select(self.fds(), [], [], 0.1)

    def restart(self) -> None:
        """Discard this jail (processes, cgroups, folders) and start a fresh one in its place."""
        self.close()
        self.restarts += 1
        self._start()

    def hang_up(self) -> None:
        """EOF on the jail's control and source pipes: its init returns and exits (``stop`` waits)."""
        for fd in (self.ctl_w, self.src_w, self.ch_r, self.st_r):
            try:
                os.close(fd)
            except OSError:
                pass

    def stop(self) -> None:
        """Hang up, wait for the jail's init to exit (its namespaces die with it), kill what is left."""
        if self.proc is not None:
            self.hang_up()
            try:
                self.proc.wait(timeout=3)
            except subprocess.TimeoutExpired:
                pass
            host.kill(self.proc)
            self.proc = None

    def discard(self) -> None:
        """Remove the jail's cgroups and folders; after ``stop`` and a sweep of its uid."""
        host.remove_cgroups(self.groups)
        self.groups = []
        host.remove_tree(self.box)

    def close(self) -> None:
        """Stop the jail and remove every trace of it."""
        self.stop()
        host.sweep({self.uid})
        self.discard()

    def __enter__(self) -> Jail:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_once(plan: Plan, source: bytes, *, isolation: str | None = None) -> SandboxResult:
    """One submission in a jail of its own (a jail used once)."""
    with Jail(preload_torch=plan.preload_torch, isolation=isolation, limits=plan.limits) as jail:
        return jail.run(plan, source)


class JailPool:
    """``jobs`` jails for a batch (``grader.batch`` drives them from one thread), closed together."""

    def __init__(self, jobs: int, *, preload_torch: bool = False, isolation: str | None = None,
                 limits: Limits = DEFAULT_LIMITS) -> None:
        self.jails = [Jail(preload_torch=preload_torch, isolation=isolation, limits=limits)
                      for _ in range(max(1, jobs))]

    def close(self) -> None:
        for jail in self.jails:  # all inits exit at once; one sweep of /proc for all their uids
            jail.hang_up()
        for jail in self.jails:
            jail.stop()
        host.sweep({jail.uid for jail in self.jails})
        for jail in self.jails:
            jail.discard()
