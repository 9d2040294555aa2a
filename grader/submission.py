"""Reading a submission (a file or a folder) without trusting it: the only code that opens anything in one.

The grader runs as root, outside the jail, and a submission folder is the student's: so nothing in it is
followed or opened but regular files. Each entry is looked at with ``lstat`` (through the folder's own
descriptor, never by a path that could lead elsewhere), folders are opened with ``O_NOFOLLOW``, files
with ``O_NOFOLLOW | O_NONBLOCK`` and checked again with ``fstat`` (still the same regular file). Refused,
each with a message for the student, while the rest of the submission and the batch go on: names that
are not UTF-8 or hold control characters, symbolic links (to a classmate's file, to a root-only host
file), FIFOs, devices and sockets, unreadable files, files over :data:`MAX_FILE_BYTES`, folders nested
deeper than :data:`MAX_DEPTH` or holding more than :data:`MAX_ENTRIES` entries. Only the files the grader
grades (``.py`` and answer files) are opened at all.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from grader.loader import SUFFIXES

MAX_FILE_BYTES = 1 * 2**20     # the grader reads no more of one file (stricter limits per kind come later)
MAX_TOTAL_BYTES = 4 * 2**20    # nor of one submission
MAX_ENTRIES = 500
MAX_DEPTH = 8
GRADED = (".py", *SUFFIXES)
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class RefusedFile(ValueError):
    """A file the grader will not read (the message says which and why, for the student)."""


def printable(name: str) -> str:
    """``name`` safe to show and store: bytes that are not UTF-8 and control characters escaped."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def odd_name(name: str) -> str:
    """Why ``name`` is refused as a file name ('' if it is not)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return "its name is not valid UTF-8"
    if any(not c.isprintable() for c in name):
        return "its name holds control characters"
    return ""


@dataclass
class Snapshot:
    """What the grader read of one submission: its graded files (relative path → bytes, in path order)
    and a message for everything it refused."""
    root: Path
    folder: bool = False
    files: list[tuple[str, bytes]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def code(self) -> list[tuple[str, bytes]]:
        return [(n, d) for n, d in self.files if n.endswith(".py")]

    def answers(self) -> list[tuple[str, bytes]]:
        return [(n, d) for n, d in self.files if Path(n).suffix.lower() in SUFFIXES]

    def path_of(self, rel: str) -> Path:
        return self.root / rel if self.folder else self.root

    def digest(self, assignment: str) -> str:
        """SHA-256 of exactly what is graded: every file's path and bytes, length-prefixed (no two
        different submissions frame to the same bytes), and what was refused."""
        h = hashlib.sha256(b"peftcalc submission v2\0" + assignment.encode() + b"\0")
        for rel, data in self.files:
            for part in (rel.encode(), data):
                h.update(len(part).to_bytes(8, "little") + part)
        for why in self.refused:
            h.update(b"refused\0" + why.encode() + b"\0")
        return h.hexdigest()


def _refuse(snap: Snapshot, rel: str, why: str) -> None:
    snap.refused.append(f"{printable(rel)}: not read ({why})")


def _kind(mode: int) -> str:
    for test, what in ((stat.S_ISLNK, "a symbolic link; links are not followed"), (stat.S_ISFIFO, "a FIFO"),
                       (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return what
    return "not a regular file"


def _read(snap: Snapshot, rel: str, name: str, dir_fd: int | None, seen: os.stat_result, budget: list[int]) -> None:
    """One regular file, opened without following links and checked to be what ``lstat`` saw."""
    if seen.st_size > MAX_FILE_BYTES:
        return _refuse(snap, rel, f"{seen.st_size:,} bytes; files are limited to {MAX_FILE_BYTES:,}")
    if not seen.st_mode & 0o444:
        return _refuse(snap, rel, "unreadable: it has no read permission")
    try:
        fd = os.open(name, _OPEN_FILE, dir_fd=dir_fd)
    except OSError as exc:
        return _refuse(snap, rel, f"unreadable: {exc.strerror}")
    try:
        now = os.fstat(fd)
        if not stat.S_ISREG(now.st_mode) or (now.st_dev, now.st_ino) != (seen.st_dev, seen.st_ino):
            return _refuse(snap, rel, "it changed while it was read")
        with os.fdopen(os.dup(fd), "rb") as fh:
            data = fh.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return _refuse(snap, rel, f"unreadable: {exc.strerror}")
    finally:
        os.close(fd)
    if len(data) > MAX_FILE_BYTES:
        return _refuse(snap, rel, f"larger than {MAX_FILE_BYTES:,} bytes")
    budget[0] -= len(data)
    if budget[0] < 0:
        return _refuse(snap, rel, f"the submission's files together exceed {MAX_TOTAL_BYTES:,} bytes")
    snap.files.append((rel, data))


def _walk(snap: Snapshot, dir_fd: int, prefix: str, depth: int, budget: list[int], count: list[int]) -> None:
    try:
        names = sorted(os.listdir(dir_fd))
    except OSError as exc:
        return _refuse(snap, prefix or ".", f"the folder could not be listed: {exc.strerror}")
    for name in names:
        rel = f"{prefix}{name}"
        count[0] += 1
        if count[0] > MAX_ENTRIES:
            return _refuse(snap, prefix or ".", f"more than {MAX_ENTRIES} entries; the rest was not looked at")
        why = odd_name(name)
        if why:
            _refuse(snap, rel, why)
            continue
        try:
            st = os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        except OSError as exc:
            _refuse(snap, rel, exc.strerror or "could not be examined")
            continue
        if stat.S_ISDIR(st.st_mode):
            if depth >= MAX_DEPTH:
                _refuse(snap, rel, f"folders nested deeper than {MAX_DEPTH} levels")
                continue
            try:
                sub = os.open(name, _OPEN_DIR, dir_fd=dir_fd)
            except OSError as exc:
                _refuse(snap, rel, f"unreadable folder: {exc.strerror}")
                continue
            try:
                _walk(snap, sub, f"{rel}/", depth + 1, budget, count)
            finally:
                os.close(sub)
        elif not stat.S_ISREG(st.st_mode):
            _refuse(snap, rel, _kind(st.st_mode))
        elif Path(name).suffix.lower() in GRADED:
            _read(snap, rel, name, dir_fd, st, budget)


def read_submission(path: Path) -> Snapshot:
    """Everything the grader will grade of the submission at ``path`` (see the module docstring)."""
    snap = Snapshot(path)
    budget, count = [MAX_TOTAL_BYTES], [0]
    why = odd_name(path.name)
    if why:
        _refuse(snap, path.name, why)
        return snap
    try:
        st = os.lstat(path)
    except OSError as exc:
        _refuse(snap, path.name, exc.strerror or "could not be examined")
        return snap
    if stat.S_ISDIR(st.st_mode):
        snap.folder = True
        try:
            fd = os.open(path, _OPEN_DIR)
        except OSError as exc:
            _refuse(snap, path.name, f"unreadable folder: {exc.strerror}")
            return snap
        try:
            _walk(snap, fd, "", 0, budget, count)
        finally:
            os.close(fd)
    elif stat.S_ISREG(st.st_mode):
        if path.suffix.lower() in GRADED:
            _read(snap, path.name, str(path), None, st, budget)
    else:
        _refuse(snap, path.name, _kind(st.st_mode))
    return snap


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of one regular file at most ``limit`` long, opened without following a link;
    :class:`RefusedFile` otherwise (what the answer-file loader reads through)."""
    snap = Snapshot(path)
    try:
        st = os.lstat(path)
    except OSError as exc:
        raise RefusedFile(f"{printable(path.name)}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise RefusedFile(f"{printable(path.name)}: not read ({_kind(st.st_mode)})")
    if st.st_size > limit:
        raise RefusedFile(f"{printable(path.name)} is {st.st_size:,} bytes; answer files are limited to {limit:,}")
    _read(snap, path.name, str(path), None, st, [limit])
    if snap.refused:
        raise RefusedFile(snap.refused[0])
    return snap.files[0][1]
