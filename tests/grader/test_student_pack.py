"""What a student gets: a template with their own numbers, and a pack with a self-check and no key."""

from __future__ import annotations

import ast
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

import yaml

from grader.analytic import grade_answers
from grader.variants import student_numbers
from peftcalc.cli import main

GRADER = Path(__file__).resolve().parents[2] / "grader"


def test_template_carries_the_students_numbers(capsys):
    n = student_numbers("stage9", "alice", "fall26")
    assert main(["grade", "--template", "stage9", "--student", "alice", "--seed", "fall26"]) == 0
    out = capsys.readouterr().out
    assert "student alice (seed fall26)" in out
    assert f"your numbers: d={n['d']:,}, k={n['k']:,}, r={n['r']}" in out
    assert set(yaml.safe_load(out)) >= {"9.1a", "9.2a", "9.4c"}
    # what the template tells her is what the grader grades her on
    res = grade_answers("stage9", {"9.2a": str(n["r"] * 2 * n["d"])}, student="alice", seed="fall26")
    assert next(p for p in res.parts if p.id == "9.2a").status == "correct"


def test_template_flags_that_cannot_be_honoured_are_errors(capsys):
    assert main(["grade", "--template", "stage9", "--student", "alice"]) == 2          # whose seed?
    assert main(["grade", "--template", "stage9", "--seed", "fall26"]) == 2            # whose numbers?
    assert main(["grade", "--template", "lesson19", "--student", "a", "--seed", "x"]) == 2  # no variants
    err = capsys.readouterr().err
    assert err.count("\n") == 3 and "Traceback" not in err


def test_pack_holds_no_key_and_its_selfcheck_runs_alone(tmp_path):
    pack = tmp_path / "alice"
    assert main(["grade", "--student-pack", str(pack), "--assignment", "stage9", "--student", "alice",
                 "--seed", "fall26"]) == 0
    files = {p.relative_to(pack).as_posix() for p in pack.rglob("*") if p.is_file()}
    assert {"answers.yaml", "selfcheck.py", "parts.json", "_reader/grader/reading.py"} <= files
    assert not any(f.startswith(("answers/", "_reader/answers")) for f in files)
    n = student_numbers("stage9", "alice", "fall26")
    leaks = _key_values_in(pack, "stage9", {**student_numbers("stage9", "alice", "fall26")}) | \
        _key_values_in(pack, "stage9", {})
    assert leaks == set()  # no accepted value of the key, hers or the printed one, in any file of the pack
    code = " ".join(p.read_text() for p in pack.rglob("*.py"))
    for phrase in ("bottleneck layers run at inference", "known mistakes", "Mistake(", "Accepted("):
        assert phrase not in code  # nor any of the key's words or structures
    (pack / "answers.yaml").write_text('"9.1a": "14 GB + 14 GB + 56 GB = 84 GB"\n"9.2a": "I dunno"\n')
    # run with -I (no site, no cwd on the path) from another folder: only the pack's own code is used
    done = subprocess.run([sys.executable, "-I", str(pack / "selfcheck.py")], capture_output=True, text=True,
                          cwd=tmp_path, timeout=60)
    assert done.returncode == 1, done.stderr  # one answer unreadable
    assert "read 84 GB after the working 14 GB + 14 GB + 56 GB" in done.stdout
    assert "no number in 'I dunno'" in done.stdout and "not whether they are right" in done.stdout


def _spellings(value, unit):
    """How an answer is written in text: 65536, 65,536; 84 GB, 84GB, 78.23 GiB; 0.390625."""
    out = set()
    if isinstance(value, (int, Fraction)):
        v = Fraction(value)
        if v.denominator == 1 and abs(v) >= 1000:  # smaller ones (256, 64) are everywhere, leaked or not
            out |= {str(int(v)), f"{int(v):,}"}
        if unit == "bytes" and v >= 10**6:
            for div, name in ((10**9, "GB"), (2**30, "GiB"), (10**6, "MB")):
                shown = f"{float(v) / div:.2f}".rstrip("0").rstrip(".")
                if float(v) / div >= 1 and len(shown.replace(".", "")) >= 2:
                    out |= {f"{shown} {name}", f"{shown}{name}"}
        if unit in ("percent", "USD") and v.denominator != 1 and len(f"{float(v):.6g}") >= 4:
            out.add(f"{float(v):.6g}")
    return out


def _key_values_in(folder, assignment, numbers):
    import re

    from grader import assignments
    from grader.variants import inputs_for

    values = set()
    for part in assignments.get(assignment).parts():
        ans = part.answer(**inputs_for(part.defaults, numbers))
        for item in ans.items or (ans,):
            for acc in item.accepted:
                values |= _spellings(acc.value, acc.unit or item.unit)
    found = set()
    for path in (p for p in folder.rglob("*") if p.is_file()):
        text = path.read_text()
        for v in values:  # as a whole number, not inside a longer one
            if re.search(rf"(?<![\d.,]){re.escape(v)}(?!\d)", text):
                found.add((path.name, v))
    return found


@pytest.mark.parametrize("assignment, student", [("chapter24", "bob"), ("lesson19", None)])
def test_other_packs_hold_no_key_either(tmp_path, assignment, student):
    extra = ["--student", student, "--seed", "s1"] if student else []
    assert main(["grade", "--student-pack", str(tmp_path / "p"), "--assignment", assignment, *extra]) == 0
    numbers = student_numbers(assignment, student, "s1") if student else {}
    assert _key_values_in(tmp_path / "p", assignment, numbers) | _key_values_in(tmp_path / "p", assignment, {}) == set()


def test_pack_into_a_folder_with_files_is_refused(tmp_path, capsys):
    (tmp_path / "x").write_text("")
    assert main(["grade", "--student-pack", str(tmp_path), "--assignment", "stage9"]) == 2
    assert "empty folder" in capsys.readouterr().err


def test_reader_modules_never_import_the_key():
    from grader.student_pack import READER_MODULES

    for name in READER_MODULES:
        tree = ast.parse((GRADER / name).read_text())
        imported = {a.name for node in ast.walk(tree) if isinstance(node, ast.Import) for a in node.names}
        imported |= {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        assert not any(m.split(".")[0] in ("answers", "peftcalc") for m in imported), (name, imported)
        assert imported & {"grader.compare", "grader.numeric", "grader.analytic"} == set(), name
