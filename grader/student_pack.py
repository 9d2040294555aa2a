"""A student pack: what a course hands a student instead of the tool — the answer template (with the
student's own numbers) and a self-check that reads answers as the grader does, without the key.

    DIR/answers.yaml     the template to fill in
    DIR/selfcheck.py     python selfcheck.py [answers.yaml]: what the grader reads in each answer
    DIR/parts.json       part ID → kind and unit (no values)
    DIR/_reader/grader/  the grader's reading code: loader, submission, parse, reading, selfcheck (no answer key)

peftcalc itself holds the key (``peftcalc answer``), so a student never needs it installed.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from peftcalc.errors import InputError

READER_MODULES = ("loader.py", "submission.py", "parse.py", "reading.py", "selfcheck.py")  # stdlib + PyYAML (+ sympy for formulas)
LAUNCHER = '''"""Check how the grader reads your answers (not whether they are right): python selfcheck.py [answers.yaml]"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent / "_reader"))
from grader.selfcheck import main  # noqa: E402

sys.exit(main())
'''


def _parts(assignment: str) -> dict[str, dict[str, str]]:
    from grader import assignments

    out: dict[str, dict[str, str]] = {}
    for part in assignments.get(assignment).parts():
        ans = part.answer()
        for item in ans.items or (ans,):
            out[item.id] = {"kind": item.kind, "unit": item.unit}
    return out


def write_pack(folder: Path, assignment: str, *, student: str | None = None, seed: str | None = None) -> list[Path]:
    """Write the pack into ``folder`` (created; must be empty if it exists); returns the files written."""
    from grader.template import template

    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError("--student-pack", str(folder), "a new or empty folder")
    text = template(assignment, student=student, seed=seed)
    reader = folder / "_reader" / "grader"
    reader.mkdir(parents=True)
    (reader / "__init__.py").write_text("")
    here = Path(__file__).parent
    for name in READER_MODULES:
        shutil.copy(here / name, reader / name)
    (folder / "answers.yaml").write_text(text, encoding="utf-8")
    (folder / "selfcheck.py").write_text(LAUNCHER, encoding="utf-8")
    (folder / "parts.json").write_text(json.dumps(_parts(assignment), indent=1), encoding="utf-8")
    return sorted(p for p in folder.rglob("*") if p.is_file())
