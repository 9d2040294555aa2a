"""A student's self-check: does the grader read each answer the way the student meant it? It says what
it read (``9.2a: read 1,234``), never whether it is right — it holds no answer key.

Runs inside a student pack (see :mod:`grader.student_pack`) with only :mod:`grader.loader`,
:mod:`grader.parse` and :mod:`grader.reading` beside it: ``python selfcheck.py answers.yaml``.
Never import :mod:`answers` here (``tests/grader/test_student_pack.py`` checks that it does not).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from grader.loader import LoadError, load_answers
from grader.parse import ParseError, looks_like_formula, parse_formula
from grader.reading import read, split_values, steps


def _flat(answers: dict[str, Any]) -> dict[str, Any]:
    """Part ID → answer, group parts' named values as ``24.9a.prefix``."""
    out: dict[str, Any] = {}
    for key, value in answers.items():
        if isinstance(value, dict):
            out.update({f"{key}.{k}": v for k, v in value.items()})
        else:
            out[str(key).strip()] = value
    return out


def check_one(kind: str, unit: str, raw: Any) -> tuple[str, str]:
    """(status, what was read): status is ok, missing or unreadable."""
    text = "" if raw is None else str(raw).strip()
    if not text:
        return "missing", "no answer yet"
    if kind == "formula":
        try:
            return "ok", f"formula {parse_formula(text)}"
        except ParseError as exc:
            return "unreadable", str(exc)
        except ImportError:
            return "ok", "a formula (install sympy to check that it parses)"
    if kind != "numeric":
        words = len(text.split())
        return "ok", f"text, {words} word{'s' * (words != 1)} (graded against the rubric, then by staff)"
    final = steps(text)[-1] if steps(text) else ""
    if looks_like_formula(final):
        try:
            expr = parse_formula(final)
            if expr.free_symbols:
                return "ok", f"formula {expr} (evaluated at your numbers)"
        except ImportError:  # it passed the whitelist: a formula, which the grader evaluates
            return "ok", "a formula (graded at your numbers; install sympy to see it parsed)"
        except ParseError:
            pass
    try:
        reading = read(text, hint=unit)
    except ParseError as exc:
        return "unreadable", f"{exc}: the grader would score this 0 and ask staff to look"
    first = reading.candidates[0]
    more = f"; also {', '.join(q.text for q in reading.candidates[1:])} (only the first counts)" \
        if len(reading.candidates) > 1 else ""
    working = f" after the working {' = '.join(reading.working)}" if reading.working else ""
    return "ok", f"read {first.text}{working}{more}"


def check(answers_path: Path, parts: dict[str, dict[str, str]]) -> list[tuple[str, str, str]]:
    """(part, status, what was read) for every part of the pack, in order."""
    raw = load_answers(answers_path)
    given = _flat(raw)
    for group, value in raw.items():  # a multi-value part answered in one string: "3.1M, 0.27%"
        members = [pid for pid in parts if pid.startswith(f"{str(group).strip()}.")]
        if members and isinstance(value, (str, int, float)):
            for pid, piece in zip(members, split_values(str(value), [parts[m].get("unit", "") for m in members])):
                given[pid] = piece
    return [(pid, *check_one(info["kind"], info.get("unit", ""), given.get(pid))) for pid, info in parts.items()]


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    here = Path(__file__).resolve().parents[2]  # DIR/_reader/grader/selfcheck.py → DIR
    path = Path(args[0]) if args else here / "answers.yaml"
    parts = json.loads((here / "parts.json").read_text(encoding="utf-8"))
    try:
        rows = check(path, parts)
    except (LoadError, OSError) as exc:
        print(f"selfcheck: {exc}", file=sys.stderr)
        return 2
    width = max(len(pid) for pid, _, _ in rows)
    for pid, status, what in rows:
        mark = {"ok": "✓", "missing": "·", "unreadable": "✗"}[status]
        print(f"{mark} {pid:<{width}}  {what}")
    unreadable = sum(status == "unreadable" for _, status, _ in rows)
    missing = sum(status == "missing" for _, status, _ in rows)
    print(f"\n{len(rows) - unreadable - missing} read, {missing} not answered, {unreadable} unreadable "
          "(this checks how your answers are read, not whether they are right)")
    return 1 if unreadable else 0


if __name__ == "__main__":
    sys.exit(main())
