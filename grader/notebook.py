"""Reading a Jupyter notebook submission (nbformat 4): its code cells as one Python module, its answer cells
as a mapping of part ID to answer, and a note for everything it dropped.

The notebook is read with the real ``nbformat`` library and validated against its schema; a notebook that
is not UTF-8, not JSON, not nbformat 4, invalid, larger than ``MAX_NOTEBOOK_BYTES`` (defined with the other
limits of a submission, in :mod:`grader.submission`), longer than :data:`MAX_CELLS` cells, or whose code
or answers exceed what a .py or an answer file may hold, gives one :class:`NotebookError` whose message
is for the student. Outputs are never read: nothing a notebook claims
to have printed can raise its score.

**The answer convention** (``peftcalc grade --template ID --format ipynb`` writes a notebook that follows
it). A markdown or raw cell whose first non-blank line starts with a part ID is an answer cell::

    9.2a: 65,536            the answer follows the colon (and may go on over the lines below it)
    **9.2a**: 65,536        the ID in bold, italics or `code`; the colon inside or outside: **9.2a:**
    ### 9.2a                a heading of any level, with or without a colon: the rest of the cell
    Exercise 9.2a: ...      "Exercise" or "Part" before the ID; "- 9.2a: ..." as a list item

Each later line of the cell that starts the same way begins the next answer, so one cell may hold several
(``9.1a: 84 GB`` then ``9.2a: 65,536``), and a group part's values go by sub-ID (``24.9a.prefix: 5.24M``)
as in an answer file. The answer is the text as written, trimmed, so the grader's own reader sees
``65,536`` or ``**0.39 %**`` exactly as in a YAML file. A blank answer (the template's unfilled
``9.2a:``) is no answer; a part answered twice counts its last non-blank answer (a note says so).
Code cells are never answers.

**The code** is every code cell, in order, each under a ``# cell N`` comment (N counts all cells from 1,
as they stand in the notebook). IPython syntax that is not Python is dropped, each dropped line listed in
a note, and replaced by a blank line (or ``pass`` where it was indented, so its block stays valid) so
that line numbers within a cell stay right:

- line magics (``%matplotlib inline``, ``%load_ext``, ``%timeit f()``), shell escapes (``!pip install``,
  ``files = !ls``, ``x = %sx ls``) and help (``obj?``, ``??obj``). ``%time stmt`` keeps ``stmt``:
  IPython runs it once in the notebook's namespace, so later cells may use what it assigns; ``%timeit``
  runs its statement in a namespace of its own, so dropping it takes nothing away from the later cells;
- a cell that starts with a cell magic is dropped whole: ``%%bash``, ``%%writefile``, ``%%html``, ... are not
  Python, and ``%%timeit``'s body runs in a namespace of its own. ``%%time``, ``%%capture`` and ``%%prun``
  run a Python body in the notebook's namespace: the body is kept (the magic line goes).

Only the start of a logical line can be IPython syntax: a line inside a triple-quoted string (a docstring's
line that starts with ``!`` or ``%``), inside brackets or after a backslash is Python and kept. Top-level
demo code stays: it runs inside the jail like any module code. A notebook whose kernel is not Python has
its code cells dropped (a note says so).
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from typing import Any

from grader.loader import MAX_BYTES as MAX_ANSWER_BYTES, MAX_PARTS
from grader.submission import MAX_FILE_BYTES, MAX_NOTEBOOK_BYTES

MAX_CELLS = 1_000       # a course notebook has tens; reading costs the grader ~0.5 ms a cell (two validations)
PYTHON_CELL_MAGICS = frozenset({"time", "capture", "prun"})  # their body is Python, run in the notebook's namespace
_SHOWN = 40             # characters of a dropped line quoted in a note


class NotebookError(ValueError):
    """The notebook could not be read (one line, for the student)."""


@dataclass(frozen=True)
class Notebook:
    """What a notebook submits: its code as one module (b"" when it has none), its answers (part ID →
    answer text, as an answer file's mapping) and what reading it dropped."""
    source: bytes
    answers: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------- answers
_NAME = r"[A-Za-z_](?:[A-Za-z0-9_]|\\_)*"  # a sub-ID; markdown editors escape its underscores (lora\_r8)
# 9.2a, 24.9a.prefix, 19.1.lora_r8_params, 9.mini.model; never a plain number (0.39)
PART_ID = rf"\d+\.(?:\d+[a-z](?:\.{_NAME})*|\d+(?:\.{_NAME})+|{_NAME}(?:\.{_NAME})*)"
_EM = r"(?:\*\*|__|\*|_|`)?"
_LABEL = re.compile(rf"\s*(?:#{{1,6}}\s*|[-*+]\s+)?{_EM}(?:(?i:exercise|part)\s+)?(?P<id>{PART_ID})"
                    rf"(?:{_EM}\s*:{_EM}|:{_EM}|{_EM}\s*$)")


def answer_label(part_id: str) -> str:
    """How an answer cell starts (the template pre-fills it).

    >>> answer_label("9.2a")
    '9.2a: '
    """
    return f"{part_id}: "


def _answers(cells: list[Any]) -> tuple[dict[str, str], list[str]]:
    found: dict[str, tuple[str, int]] = {}  # part ID → (answer, cell number)
    times: dict[str, int] = {}

    def keep(pid: str, lines: list[str], number: int) -> None:
        text = "\n".join(lines).strip()
        if text:  # a blank answer is no answer: it never replaces one
            found[pid] = (text, number)
            times[pid] = times.get(pid, 0) + 1

    for number, cell in enumerate(cells, 1):
        lines = cell.source.strip().splitlines()
        if cell.cell_type not in ("markdown", "raw") or not lines or not _LABEL.match(lines[0]):
            continue
        pid, answer = "", []
        for line in lines:
            label = _LABEL.match(line)
            if label is None:
                answer.append(line)
                continue
            if pid:
                keep(pid, answer, number)
            pid, answer = label.group("id").replace("\\_", "_"), [line[label.end():]]
        keep(pid, answer, number)
    notes = [f"{pid} is answered {n} times; the last answer counts (cell {found[pid][1]})"
             for pid, n in times.items() if n > 1]
    return {pid: text for pid, (text, _) in found.items()}, notes


# ------------------------------------------------------------------------------------------------- code
_SHELL_ASSIGN = re.compile(r"[\w.,\s\[\]()*]+=\s*[!%]")   # files = !ls, x = %sx ls (never x != y, x %= 2)
_HELP = re.compile(r"\?{0,2}[\w.*\[\]]+\?{0,2}")         # obj?, obj.attr??, ?obj, np.*load*?


def _ipython(line: str) -> bool:
    """Is this logical line IPython syntax (a magic, a shell escape, help) rather than Python?"""
    text = line.strip()
    return text.startswith(("!", "%", "?")) or bool(_SHELL_ASSIGN.match(text)) or \
        ("?" in text and bool(_HELP.fullmatch(text)))


def _scan(line: str, quote: str | None, depth: int) -> tuple[str | None, int, bool]:
    """Python's lexical state after ``line``: the open string's quote (if a triple-quoted string, or a
    backslash-continued one, goes on), the bracket depth, and whether a backslash continues the line."""
    i, n = 0, len(line)
    while i < n:
        ch = line[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if line.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
            i += 1
            continue
        if ch == "#":
            return None, depth, False
        if ch in "\"'":
            quote = line[i:i + 3] if line[i:i + 3] in ('"""', "'''") else ch
            i += len(quote)
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        i += 1
    continued = line.endswith("\\")
    if quote in ('"', "'") and not continued:
        quote = None  # an unterminated one-line string: Python's error to report, not ours
    return quote, depth, continued and quote is None


def _python_lines(source: str) -> tuple[list[str], list[str], str]:
    """A code cell's lines with IPython syntax blanked (as many lines), the lines dropped, and the cell
    magic for which the whole cell was dropped ('' if it was not)."""
    lines = source.split("\n")
    dropped: list[str] = []
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        magic = lines[first].strip()
        name = (magic[2:].split() or [""])[0]
        if name not in PYTHON_CELL_MAGICS:
            return [""] * len(lines), [], magic
        dropped.append(magic)  # %%time and the like: the body is Python, only the magic line goes
        lines[first] = ""
    out: list[str] = []
    quote: str | None = None
    depth, continued, in_magic = 0, False, False
    for line in lines:
        if in_magic or (quote is None and depth == 0 and not continued and _ipython(line)):
            indent = line[:len(line) - len(line.lstrip())]
            in_magic = line.endswith("\\")  # a magic continued by a backslash takes the next line with it
            timed = re.match(r"%time\s+(\S.*)", line.strip())
            if timed is None or in_magic:
                if line.strip():
                    dropped.append(line.strip())
                out.append(indent + "pass" if indent else "")  # pass keeps an indented block valid
                continue
            line = indent + timed.group(1)  # %time runs it once, in the notebook's namespace: keep it
        quote, depth, continued = _scan(line, quote, depth)
        out.append(line)
    return out, dropped, ""


def _quoted(lines: list[str]) -> str:
    shown = ", ".join(d if len(d) <= _SHOWN else d[:_SHOWN - 1] + "…" for d in lines[:6])
    return shown + (f", and {len(lines) - 6} more" if len(lines) > 6 else "")


def _code(cells: list[Any]) -> tuple[bytes, list[str]]:
    """The code cells as one module (b"" when none holds code), and notes on what was dropped."""
    module: list[str] = []
    dropped_lines: list[str] = []
    dropped_cells: list[str] = []
    has_code = False
    for number, cell in enumerate(cells, 1):
        if cell.cell_type != "code":
            continue
        lines, dropped, magic = _python_lines(cell.source)
        dropped_lines += dropped
        if magic:
            dropped_cells.append(f"cell {number}: {_quoted([magic])}")
        has_code = has_code or any(line.strip() and not line.lstrip().startswith("#") for line in lines)
        module += [f"# cell {number}", *lines, ""]
    notes = []
    if dropped_lines:
        n = len(dropped_lines)
        notes.append(f"dropped {n} IPython line{'s' * (n > 1)} ({_quoted(dropped_lines)})")
    if dropped_cells:
        n = len(dropped_cells)
        notes.append(f"dropped {n} cell{'s' * (n > 1)} run by a cell magic ({'; '.join(dropped_cells)})")
    return ("\n".join(module).encode() if has_code else b""), notes


# ---------------------------------------------------------------------------------------------- reading
def _parse(data: bytes) -> Any:
    """The validated nbformat-4 notebook in ``data`` (NotebookError otherwise)."""
    if len(data) > MAX_NOTEBOOK_BYTES:
        raise NotebookError(f"{len(data):,} bytes; notebooks are limited to {MAX_NOTEBOOK_BYTES:,} (clear "
                            f"large outputs)")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise NotebookError("not UTF-8 text") from None
    try:
        raw = json.loads(text)
    except RecursionError:
        raise NotebookError("not a notebook: its JSON is nested too deeply") from None
    except ValueError as exc:
        where = f" at line {exc.lineno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise NotebookError(f"not valid JSON{where}: is it a notebook saved by Jupyter?") from None
    if not isinstance(raw, dict):
        raise NotebookError("not a notebook: its JSON is not an object")
    major, minor = raw.get("nbformat"), raw.get("nbformat_minor")
    if type(major) is not int or type(minor) is not int or major != 4 or minor < 0:
        version = f"nbformat {major!r}.{minor!r}" if major is not None else "no nbformat version"
        raise NotebookError(f"not an nbformat 4 notebook ({version}); save it from a current Jupyter")
    cells = raw.get("cells")
    if isinstance(cells, list) and len(cells) > MAX_CELLS:
        raise NotebookError(f"{len(cells):,} cells; notebooks are limited to {MAX_CELLS:,}")
    import nbformat
    from nbformat.validator import get_validator

    # The schema first, on the plain JSON: nbformat's reader assumes a valid shape (a source of numbers or
    # outputs that are no list fail in it with TypeError). Cells without IDs (nbformat 4.5) are valid to the
    # reader, which gives them IDs (as it renames duplicate ones): so they are here.
    if minor >= 5 and isinstance(cells, list):
        raw["cells"] = [c if not isinstance(c, dict) or "id" in c else {**c, "id": f"cell-{i}"}
                        for i, c in enumerate(cells)]
    try:
        error = next(iter(get_validator(version=4, version_minor=minor).iter_errors(raw)), None)
    except RecursionError:
        raise NotebookError("not a valid notebook: nested too deeply") from None
    if error is not None:
        raise NotebookError(f"not a valid notebook: {_schema_message(error)}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", nbformat.warnings.MissingIDFieldWarning)
            warnings.simplefilter("ignore", nbformat.warnings.DuplicateCellId)
            return nbformat.reads(text, as_version=4)
    except RecursionError:  # metadata nested deeper than the reader's recursion (the schema allows any)
        raise NotebookError("not a valid notebook: nested too deeply") from None


def _schema_message(error: Any) -> str:
    """A schema error in the student's terms, whichever validator nbformat uses: jsonschema's message and
    path ("3 is not valid ... (at cells[0].source)") or fastjsonschema's ("data.cells[0] must be ..."),
    cells counted from 1 as in the code's ``# cell N``."""
    message = error.message.strip().splitlines()[0] if error.message.strip() else "invalid"
    message = message.removeprefix("data.").removeprefix("data ")
    where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path).lstrip(".")
    text = f"{message} (at {where})" if where else message
    text = re.sub(r"\bcells\[(\d+)\](\.?)", lambda m: f"cell {int(m.group(1)) + 1}{' ' * len(m.group(2))}", text)
    return text if len(text) <= 160 else text[:159] + "…"


def _language(nb: Any) -> str:
    """The kernel's language as the notebook records it ('python' when it does not say)."""
    info = nb.metadata.get("language_info") or {}
    spec = nb.metadata.get("kernelspec") or {}
    name = info.get("name") if isinstance(info, dict) else None
    name = name or (spec.get("language") if isinstance(spec, dict) else None) or "python"
    return str(name)


def read_notebook(data: bytes) -> Notebook:
    """The code, answers and notes of the notebook whose file holds ``data`` (see the module docstring).

    >>> nb = read_notebook(json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [
    ...     {"cell_type": "markdown", "id": "a", "metadata": {}, "source": "**9.2a**: 65,536"},
    ...     {"cell_type": "code", "id": "b", "metadata": {}, "outputs": [], "execution_count": None,
    ...      "source": "%matplotlib inline\\nx = 1"}]}).encode())
    >>> nb.answers, nb.source, nb.notes
    ({'9.2a': '65,536'}, b'# cell 2\\n\\nx = 1\\n', ['dropped 1 IPython line (%matplotlib inline)'])
    """
    nb = _parse(data)
    answers, notes = _answers(nb.cells)
    if len(answers) > MAX_PARTS:
        raise NotebookError(f"{len(answers)} answers; an assignment has far fewer parts")
    size = sum(len(text.encode()) for text in answers.values())
    if size > MAX_ANSWER_BYTES:
        raise NotebookError(f"its answers hold {size:,} bytes; answers are limited to {MAX_ANSWER_BYTES:,} "
                            f"as in an answer file")
    code = sum(len(c.source.encode()) for c in nb.cells if c.cell_type == "code")
    if code > MAX_FILE_BYTES:  # and the converter reads every character of it, in the grader's process
        raise NotebookError(f"its code cells hold {code:,} bytes; code is limited to {MAX_FILE_BYTES:,} as in a "
                            f".py file")
    language = _language(nb)
    if language.lower() != "python":
        has_code = any(c.cell_type == "code" and c.source.strip() for c in nb.cells)
        return Notebook(b"", answers, notes + ([f"its kernel is {language}, not Python: code cells not graded"]
                                               if has_code else []))
    source, dropped = _code(nb.cells)
    return Notebook(source, answers, dropped + notes)
