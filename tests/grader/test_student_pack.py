"""What a student gets: a template with their own numbers, and a pack with a self-check and no key."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

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
    data = (pack / "answers.yaml").read_text() + (pack / "parts.json").read_text()
    for value in (f"{n['r'] * 2 * n['d']:,}", str(n["r"] * 2 * n["d"]), "84,000,000,000", "84 GB", "0.390625"):
        assert value not in data  # no answer value in the pack's data (the code's docstring examples are generic)
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
