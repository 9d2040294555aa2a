"""What crosses a jail's boundary: the limits, the plan, the records, and the one codec for JSON lines.

Both sides import this file: the grader as ``grader.sandbox.protocol``, the jail as ``protocol`` (a copy
beside the harness; the jail sees no grader package). So: standard library only.

Channels (all pipes, one JSON object per line, every reader goes through :class:`LineReader`):

- control (grader → jail's init): a :data:`request <Plan>` per submission, ``{"job", "checks_key",
  "checks"?, "source_bytes", "source_sha256", "limits"}``; the source itself travels on the *source*
  pipe, which the init never reads (only the job's own fork does: the init never holds a submission);
- results (jail → grader): ``{"job", "record": Record}`` or ``{"job", "batch": [Record, ...]}`` from the
  job's fork, then ``{"job", "done": true, "clean": bool, "error": str, "seconds": {...}}`` from the init;
- a check's fork → the job's fork: one final line ``{"batch": [...]}`` or one Record.

Anything that does not decode, is too long or too deep, or does not match the schema is a
:class:`ProtocolError`: the submission that caused it gets 0 with the reason, and nobody else is affected.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field, replace
from typing import Any

MAX_LINE_BYTES = 16 * 2**20      # one line on any channel
MAX_JOB_BYTES = 32 * 2**20       # everything one submission may send back
MAX_DEPTH = 24                   # JSON nesting on any channel (the harness encodes values 6 deep at most)
MAX_ID_CHARS = 200
MAX_ERROR_CHARS = 2000


class ProtocolError(ValueError):
    """Bytes on a channel that are not what the protocol allows (the message says what was wrong)."""


@dataclass(frozen=True)
class Limits:
    """Every limit of a jail and its submissions, defined once (the CLI, the batch, the runner and the
    harness all read them from here)."""
    check_seconds: float = 10.0           # one check, in its own fork
    budget_seconds: float = 60.0          # all checks of one submission
    cpu_seconds: int = 60                 # RLIMIT_CPU of every process in the jail
    file_bytes: int = 2 * 2**20           # RLIMIT_FSIZE: the largest file a submission can write
    open_files: int = 64                  # RLIMIT_NOFILE
    processes: int = 64                   # RLIMIT_NPROC (per jail uid: one uid per jail)
    memory_bytes: int = 2 * 2**30         # RLIMIT_AS (not with torch: pytorch#16558) and the memory cgroup
    cgroup_pids: int = 256                # pids cgroup
    work_bytes: int = 64 * 2**20          # the submission's folder (tmpfs: RAM, not disk)
    tmp_bytes: int = 16 * 2**20           # the jail's /tmp and /dev/shm (tmpfs each)
    inodes: int = 4096                    # files in each of those (a million empty files would take long to wipe)
    output_bytes: int = 64 * 1024         # stdout/stderr kept as feedback
    source_bytes: int = 256 * 1024        # a submission's concatenated .py files

    @property
    def job_seconds(self) -> float:
        """Wall-clock limit of one submission as the grader enforces it: the budget, the check that may
        still be running when it is spent, the fast path's own try, and the jail's clean-up."""
        return self.budget_seconds + 2 * self.check_seconds + 15

    def rlimits(self, *, torch: bool) -> dict[str, int]:
        """The rlimits the harness sets (``resource.RLIMIT_<NAME>``)."""
        limits = {"cpu": self.cpu_seconds, "fsize": self.file_bytes, "nofile": self.open_files,
                  "nproc": self.processes, "core": 0}
        return limits if torch else {**limits, "as": self.memory_bytes}

    def with_times(self, *, check_seconds: float | None = None, budget_seconds: float | None = None) -> Limits:
        return replace(self, **{k: v for k, v in (("check_seconds", check_seconds),
                                                  ("budget_seconds", budget_seconds)) if v is not None})


DEFAULT_LIMITS = Limits()


@dataclass(frozen=True)
class Plan:
    """What a jail runs for one submission: its checks (the same for a whole run: ``checks_key`` names
    them, so a warm jail is sent them once), whether torch is preloaded, and the limits."""
    checks: list[dict[str, Any]]
    checks_key: str
    preload_torch: bool = False
    limits: Limits = field(default=DEFAULT_LIMITS)


@dataclass
class Record:
    """The result of one check, as data: what its ``return`` ops gave, or what it raised."""
    id: str
    ok: bool
    values: list[Any] = field(default_factory=list)
    error: str = ""
    seconds: float | None = None

    def to_json(self) -> dict[str, Any]:
        # not dataclasses.asdict: it deep-copies the values (3 ms of a stage9 submission's ~10)
        out: dict[str, Any] = {"id": self.id, "ok": self.ok, "values": self.values, "error": self.error}
        return out if self.seconds is None else {**out, "seconds": self.seconds}


def record_from(data: Any) -> Record:
    """A :class:`Record` from decoded JSON; :class:`ProtocolError` unless it matches the schema."""
    if not isinstance(data, dict):
        raise ProtocolError(f"a record must be an object, not {type(data).__name__}")
    rid, ok = data.get("id"), data.get("ok")
    if not isinstance(rid, str) or not 0 < len(rid) <= MAX_ID_CHARS:
        raise ProtocolError("a record's id must be a short string")
    if not isinstance(ok, bool):
        raise ProtocolError(f"record {rid[:40]!r}: ok must be true or false")
    values, error, seconds = data.get("values", []), data.get("error", ""), data.get("seconds")
    if not isinstance(values, list) or not isinstance(error, str):
        raise ProtocolError(f"record {rid[:40]!r}: values must be a list and error a string")
    if seconds is not None and (isinstance(seconds, bool) or not isinstance(seconds, (int, float))):
        raise ProtocolError(f"record {rid[:40]!r}: seconds must be a number")
    return Record(rid, ok, values, error[:MAX_ERROR_CHARS], seconds)


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)  # unrolled: 10× faster than (?:[^"\\]|\\.)*
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_INNERMOST = re.compile(r"\[\]|\{\}")


def check_depth(text: str, max_depth: int = MAX_DEPTH) -> None:
    """:class:`ProtocolError` if ``text`` nests arrays/objects deeper than ``max_depth`` — decided before
    any parser recurses: strings removed, then the innermost pairs stripped one level per pass."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    too_deep = re.compile(r"[\[{]{%d}" % (max_depth + 1))
    for _ in range(max_depth):
        if not brackets:
            return
        if too_deep.search(brackets):  # a run of openers that deep: refused without stripping it pair by pair
            break
        brackets, n = _INNERMOST.subn("", brackets)
        if n == 0:
            break
    if brackets:
        raise ProtocolError(f"nested deeper than {max_depth} levels (or unbalanced)")


def decode_line(line: bytes, *, max_bytes: int = MAX_LINE_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """One JSON line → a value; :class:`ProtocolError` if it is too long, not UTF-8, too deep or not JSON."""
    if len(line) > max_bytes:
        raise ProtocolError(f"a line of {len(line):,} bytes (the limit is {max_bytes:,})")
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError("a line that is not UTF-8") from None
    check_depth(text, max_depth)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ProtocolError(f"a line that is not JSON ({str(exc)[:80]})") from None


def encode_line(value: Any) -> bytes:
    """One value → one JSON line (no NaN/inf: they are not JSON)."""
    return (json.dumps(value, allow_nan=False, separators=(",", ":")) + "\n").encode()


class LineReader:
    """Splits a byte stream into decoded JSON lines, bounded: a line longer than ``max_bytes`` or a stream
    longer than ``max_total`` is a :class:`ProtocolError` (raised from :meth:`feed`); a line that does not
    decode is returned as a ProtocolError in its place, so that the caller decides what it costs."""

    def __init__(self, *, max_bytes: int = MAX_LINE_BYTES, max_total: int | None = None) -> None:
        self.max_bytes, self.max_total = max_bytes, max_total
        self.buf = b""
        self.total = 0

    def feed(self, chunk: bytes) -> list[Any]:
        self.total += len(chunk)
        if self.max_total is not None and self.total > self.max_total:
            raise ProtocolError(f"more than {self.max_total:,} bytes on the channel")
        self.buf += chunk
        out: list[Any] = []
        while True:
            end = self.buf.find(b"\n")
            if end < 0:
                break
            line, self.buf = self.buf[:end], self.buf[end + 1:]
            if line.strip():
                try:
                    out.append(decode_line(line, max_bytes=self.max_bytes))
                except ProtocolError as exc:
                    out.append(exc)
        if len(self.buf) > self.max_bytes:
            raise ProtocolError(f"a line longer than {self.max_bytes:,} bytes")
        return out

    def reset(self) -> None:
        self.buf, self.total = b"", 0
