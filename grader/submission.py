"""Reading a submission (a file or a folder) without trusting it: the only code that opens anything in one.

The grader runs as root, outside the jail, and a submission folder is the student's: so nothing in it is
followed or opened but regular files. Each entry is looked at with ``lstat`` (through the folder's own
descriptor, never by a path that could lead elsewhere), folders are opened with ``O_NOFOLLOW``, files
with ``O_NOFOLLOW | O_NONBLOCK`` and checked again with ``fstat`` (still the same regular file). Refused,
each with a message for the student, while the rest of the submission and the batch go on: names that
are not UTF-8 or hold control characters, symbolic links (to a classmate's file, to a root-only host
file), FIFOs, devices and sockets, unreadable files, files over :data:`MAX_FILE_BYTES`, folders nested
deeper than :data:`MAX_DEPTH` or holding more than :data:`MAX_ENTRIES` entries. Only the files the grader
grades (``.py``, notebooks and answer files) are opened at all. A notebook (``.ipynb``) is read into its code
and answers here, once (:mod:`grader.notebook`); one that cannot be read is refused with the reason.
"""

from __future__ import annotations

import hashlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from grader.loader import SUFFIXES

if TYPE_CHECKING:  # imported where a notebook is read: the student pack's reader has no notebook module
    from grader.notebook import Notebook

MAX_FILE_BYTES = 1 * 2**20     # the grader reads no more of one file (stricter limits per kind come later)
MAX_NOTEBOOK_BYTES = 8 * 2**20  # nor of one notebook: outputs (plots) make it far bigger than its code
MAX_TOTAL_BYTES = 2 * MAX_NOTEBOOK_BYTES  # nor of one submission (a notebook of the largest size and more)
MAX_ENTRIES = 500
MAX_DEPTH = 8
NOTEBOOK = ".ipynb"
GRADED = (".py", NOTEBOOK, *SUFFIXES)
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
    """What the grader read of one submission: its graded files (relative path → bytes, in path order),
    what its notebooks hold (by path) and a message for everything it refused."""
    root: Path
    folder: bool = False
    files: list[tuple[str, bytes]] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    notebooks: dict[str, Notebook] = field(default_factory=dict)

    def _notebooks(self) -> list[tuple[str, Notebook]]:
        return [(n, self.notebooks[n]) for n, _ in self.files if n in self.notebooks]

    def code(self) -> list[tuple[str, bytes]]:
        """The .py files, and each notebook's code cells as one module (under the notebook's name)."""
        out = []
        for n, data in self.files:
            if n in self.notebooks:
                if self.notebooks[n].source:
                    out.append((n, self.notebooks[n].source))
            elif n.endswith(".py"):
                out.append((n, data))
        return out

    def answers(self) -> list[tuple[str, bytes]]:
        return [(n, d) for n, d in self.files if Path(n).suffix.lower() in SUFFIXES]

    def answer_sets(self) -> list[tuple[str, Path | dict[str, Any]]]:
        """Where answers are given, in path order: an answer file (its path, for the loader) or a
        notebook's answer cells (read already: part ID → answer)."""
        out: list[tuple[str, Path | dict[str, Any]]] = []
        for n, _ in self.files:
            if n in self.notebooks:
                if self.notebooks[n].answers:
                    out.append((n, self.notebooks[n].answers))
            elif Path(n).suffix.lower() in SUFFIXES:
                out.append((n, self.path_of(n)))
        return out

    def notes(self) -> list[str]:
        """What reading the notebooks dropped (IPython lines, non-Python cells, answers given twice)."""
        return [f"{printable(n)}: {note}" for n, nb in self._notebooks() for note in nb.notes]

    def ungradable_reason(self) -> str:
        """Why nothing in the submission can be graded, what was refused included ('' when something can)."""
        if self.code() or self.answer_sets():
            return ""
        reasons = list(self.refused)
        empty = [printable(n) for n, _ in self._notebooks()]
        if empty:
            reasons.append(f"{', '.join(empty)}: neither code nor answers (an answer cell is a markdown cell that "
                           f"starts with its part ID, '9.2a: your answer'; `peftcalc grade --template ASSIGNMENT "
                           f"--format ipynb` writes a notebook to fill)")
        kinds = ".py or answer file (.yaml, .yml, .json, .toml), nor a notebook (.ipynb)"
        return "; ".join(reasons) or (f"no {kinds}, in it" if self.folder else f"not a {kinds}")

    def path_of(self, rel: str) -> Path:
        return self.root / rel if self.folder else self.root

    def digest(self, assignment: str) -> str:
        """SHA-256 of exactly what is graded: every file's path and bytes (a notebook's as it is on disk,
        outputs and all), length-prefixed (no two different submissions frame to the same bytes), and what
        was refused."""
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


def _limit(name: str) -> int:
    return MAX_NOTEBOOK_BYTES if Path(name).suffix.lower() == NOTEBOOK else MAX_FILE_BYTES


def _read(snap: Snapshot, rel: str, name: str, dir_fd: int | None, seen: os.stat_result, budget: list[int]) -> None:
    """One regular file, opened without following links and checked to be what ``lstat`` saw."""
    limit = _limit(rel)
    if seen.st_size > limit:
        kind = "notebooks" if limit == MAX_NOTEBOOK_BYTES else "files"
        return _refuse(snap, rel, f"{seen.st_size:,} bytes; {kind} are limited to {limit:,}")
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
            data = fh.read(limit + 1)
    except OSError as exc:
        return _refuse(snap, rel, f"unreadable: {exc.strerror}")
    finally:
        os.close(fd)
    if len(data) > limit:
        return _refuse(snap, rel, f"larger than {limit:,} bytes")
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


def _read_notebooks(snap: Snapshot) -> None:
    """Each notebook's code and answers; its bytes stay in ``files`` (the digest covers them) either way."""
    from grader.notebook import NotebookError, read_notebook

    for rel, data in snap.files:
        if Path(rel).suffix.lower() == NOTEBOOK:
            try:
                snap.notebooks[rel] = read_notebook(data)
            except NotebookError as exc:
                snap.refused.append(f"{printable(rel)}: not graded ({exc})")


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
    _read_notebooks(snap)
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
