"""The Gradescope kit: the zip's layout is Gradescope's, and a dry run of ``run_autograder`` (AUTOGRADER_ROOT
set, no root, no Gradescope) grades the reference full marks and a broken copy less — once with this checkout,
once with the packages bundled in the zip, installed from it."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from grader import assignments
from peftcalc.cli import main

REFERENCE = Path(__file__).resolve().parents[2] / "grader" / "reference"


def _kit(tmp_path: Path, assignment: str) -> Path:
    out = tmp_path / "autograder.zip"
    assert main(["grade", "--autograder", assignment, "--output", str(out)]) == 0
    source = tmp_path / "source"
    with zipfile.ZipFile(out) as zf:
        zf.extractall(source)
        modes = {i.filename: i.external_attr >> 16 for i in zf.infolist()}
    for script in ("setup.sh", "run_autograder"):  # at the root, executable (zipfile drops the bits: restore)
        assert modes[script] & stat.S_IXUSR, script
        (source / script).chmod(0o755)
    return source


def _dry_run(root: Path, source: Path, submission: dict[str, str], env: dict[str, str] | None = None) -> dict:
    shutil.rmtree(root / "submission", ignore_errors=True)
    (root / "submission").mkdir(parents=True)
    for name, text in submission.items():
        (root / "submission" / name).write_text(text)
    run_env = {**os.environ, "AUTOGRADER_ROOT": str(root), "PEFTCALC_PYTHON": sys.executable, **(env or {})}
    done = subprocess.run(["bash", str(source / "run_autograder")], env=run_env, capture_output=True, text=True, cwd=root,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads((root / "results" / "results.json").read_text())


def test_zip_layout_is_gradescopes(tmp_path):
    source = _kit(tmp_path, "chapter24")
    assert {p.name for p in source.iterdir()} == {"setup.sh", "run_autograder", "assignment.json", "peftcalc-src"}
    for script in ("setup.sh", "run_autograder"):
        assert subprocess.run(["bash", "-n", str(source / script)]).returncode == 0
    setup = (source / "setup.sh").read_text()
    assert "download.pytorch.org/whl/cpu" in setup and "torch==" in setup  # the CPU build, pinned
    assert "--assignment chapter24" in (source / "run_autograder").read_text()
    assert json.loads((source / "assignment.json").read_text())["needs_torch"] is True
    bundled = {p.relative_to(source / "peftcalc-src").as_posix() for p in (source / "peftcalc-src").rglob("*.py")}
    assert {"grader/sandbox/ops.py", "answers/stage9.py", "peftcalc/cli.py"} <= bundled
    assert not list((source / "peftcalc-src").rglob("__pycache__"))
    assert not any(name.startswith("grader/reference/") for name in bundled)  # a submission could read them
    assert "torch" not in (_kit(tmp_path / "s9", "stage9") / "setup.sh").read_text()  # numpy only


def test_unknown_assignment_is_refused(capsys, tmp_path):
    assert main(["grade", "--autograder", "stage10", "--output", str(tmp_path / "x.zip")]) == 2
    assert "stage9" in capsys.readouterr().err and not (tmp_path / "x.zip").exists()


def test_dry_run_scores_the_reference_full_and_a_broken_copy_less(tmp_path):
    source = _kit(tmp_path, "stage9")
    reference = (REFERENCE / assignments.get("stage9").reference).read_text()
    full = _dry_run(tmp_path / "ag", source, {"solution.py": reference})
    assert full["score"] == full["max_score"] == float(sum(assignments.get("stage9").points().values()))
    broken = reference.replace("self.scaling = alpha / rank", "self.scaling = alpha")
    assert broken != reference
    less = _dry_run(tmp_path / "ag", source, {"solution.py": broken})
    assert less["score"] < less["max_score"] == full["max_score"]
    lost = {t["number"] for t in less["tests"] if t["score"] < t["max_score"]}
    assert lost == {"9.5"}
    empty = _dry_run(tmp_path / "ag", source, {})  # nothing gradable: still a results.json, with the reason
    assert empty["score"] == 0 and "no .py or answer file" in empty["output"]
    # out of the whole assignment (every part and exercise listed at 0), never 0 of 0
    assert empty["max_score"] > full["max_score"] and {"9.1a", "9.5", "9.12"} <= {t["number"] for t in empty["tests"]}


def test_the_bundled_packages_install_and_grade(tmp_path):
    """What setup.sh installs is the zip's own copy: install it (no dependencies: this venv has them) and grade
    with it alone on the path."""
    source = _kit(tmp_path, "stage9")
    site = tmp_path / "site"
    pip = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
                          str(source / "peftcalc-src")], capture_output=True, text=True, timeout=300)
    if pip.returncode != 0 and "setuptools" in pip.stderr and "No matching distribution" in pip.stderr:
        pytest.skip("no package index to fetch the build backend from")  # an offline machine
    assert pip.returncode == 0, pip.stderr[-2000:]
    presets = list((site / "peftcalc" / "arch" / "presets").glob("*.json"))
    assert len(presets) == len(list((REFERENCE.parents[1] / "peftcalc" / "arch" / "presets").glob("*.json")))
    reference = (REFERENCE / "stage9.py").read_text()
    res = _dry_run(tmp_path / "ag", source, {"solution.py": reference}, env={"PYTHONPATH": str(site)})
    assert res["score"] == res["max_score"] > 0
    probe = subprocess.run([sys.executable, "-c", "import grader; print(grader.__file__)"],
                           env={**os.environ, "PYTHONPATH": str(site)}, capture_output=True, text=True, cwd=tmp_path)
    assert probe.stdout.strip().startswith(str(site))
